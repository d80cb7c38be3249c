/**
 * A bound on the webhooks one process holds at once (decision 034): from the moment a body has been read to the
 * moment its answer is known (authenticated, parsed, written and committed, or refused). While the database keeps
 * up, a few dozen are held at a time. When it does not (a disk slower than the arrival rate, another connection
 * holding SQLite's lock, a PostgreSQL that stalls), every webhook that arrives waits in the process, with its body,
 * its row and its request; unbounded, they grew the process's memory without limit (609 to 643 MB resident in a
 * 6 s stall at 1,000 webhooks/s), and they were answered long after Shopify's 5 s had run out, so Shopify sent
 * them again on top. Past the bound a webhook is answered 503 at once,
 * before its HMAC is even checked: Shopify delivers it again later, and nothing answered 200 is affected.
 */

/**
 * Webhooks held at once: about a quarter of a second of writes on the benchmark's 2-core machine. With the database
 * stalled for 6 s under 1,000 webhooks/s, the server peaked at 278 MB resident with this bound and at 609 to 643 MB
 * with none (docs/performance.md, decision 034).
 */
export const DEFAULT_INGEST_MAX_WAITING = 500;
/** Their bodies' bytes, in MB: sixty-four 1 MB orders, or four thousand of the usual 16 kB. */
export const DEFAULT_INGEST_MAX_WAITING_MB = 64;
/** How often, at most, a refusal is logged (with the count since the last line). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

export interface AdmissionLimits {
  maxWaiting: number;
  maxWaitingBytes: number;
}

export interface AdmissionStats {
  waiting: number;
  waitingBytes: number;
  /** Refused since the process started. */
  refused: number;
}

/** What the caller logs when webhooks are being refused: at most once per REFUSAL_LOG_INTERVAL_MS. */
export interface RefusalReport {
  refusedSinceLastReport: number;
  waiting: number;
  waitingBytes: number;
  limits: AdmissionLimits;
}

export interface AdmissionOptions {
  onRefusalReport?: (report: RefusalReport) => void;
  now?: () => number;
}

/** Call once the webhook's answer is known; later calls do nothing. */
export type Leave = () => void;

export class IngestAdmission {
  private waiting = 0;
  private waitingBytes = 0;
  private refused = 0;
  private refusedUnreported = 0;
  private lastReportAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly options: AdmissionOptions = {},
  ) {}

  /**
   * Holds a place for a webhook whose body is `bytes` long, or refuses it (null) when the count or the bytes would
   * pass their limit. A body alone is always admitted (the route's own size limit applies to it), so a limit set
   * below one body's size slows such webhooks down instead of refusing them for ever.
   */
  admit(bytes: number): Leave | null {
    if (this.waiting >= this.limits.maxWaiting || (this.waiting > 0 && this.waitingBytes + bytes > this.limits.maxWaitingBytes)) {
      this.refuse();
      return null;
    }
    this.waiting++;
    this.waitingBytes += bytes;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.waiting--;
      this.waitingBytes -= bytes;
    };
  }

  stats(): AdmissionStats {
    return { waiting: this.waiting, waitingBytes: this.waitingBytes, refused: this.refused };
  }

  private refuse() {
    this.refused++;
    this.refusedUnreported++;
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastReportAt < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastReportAt = now;
    const report = { refusedSinceLastReport: this.refusedUnreported, waiting: this.waiting, waitingBytes: this.waitingBytes, limits: this.limits };
    this.refusedUnreported = 0;
    this.options.onRefusalReport?.(report);
  }
}

/**
 * INGEST_MAX_WAITING (webhooks) and INGEST_MAX_WAITING_MB (their bodies), each a whole number of at least 1. A bad
 * value throws, with what to set, so `npm start` stops at start rather than running without a bound.
 */
export function admissionLimitsFrom(source: Record<string, string | undefined>): AdmissionLimits {
  const read = (name: string, fallback: number, what: string) => {
    const text = source[name];
    if (text === undefined || text.trim() === "") return fallback;
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new Error(`${name} must be a whole number of at least 1 (${what}), not "${text}": leave it unset for ${fallback}.`);
    }
    return value;
  };
  return {
    maxWaiting: read("INGEST_MAX_WAITING", DEFAULT_INGEST_MAX_WAITING, "webhooks held at once before more are answered 503"),
    maxWaitingBytes: read("INGEST_MAX_WAITING_MB", DEFAULT_INGEST_MAX_WAITING_MB, "megabytes of webhook bodies held at once") * 1024 * 1024,
  };
}
