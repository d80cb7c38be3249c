/**
 * The PostgreSQL pool Prisma's adapter runs on, with one repair (docs/decisions/023).
 *
 * When the connection under one of Prisma's transactions breaks (a database restart, a network cut), Prisma 6's
 * engine fails its ROLLBACK ("Transaction already closed", P2028) and never tells the adapter to let the client go.
 * The client stays checked out of the pool for good. `updateMany` and batched `$transaction`s run in such a
 * transaction, so an outage of a few seconds could leave all ten clients checked out, and every later Prisma query
 * would wait for a free client and time out, until the process restarted: a worker that never recovers.
 *
 * Here a client checked out with `connect()` is handed back, as broken, the moment its connection ends or fails,
 * and a release after that is a no-op. Nothing that still works is taken away: a client whose connection ended
 * cannot run another query.
 */
import pg from "pg";

type Release = (err?: Error | boolean) => void;

export class RepairingPool extends pg.Pool {
  /** Clients handed out and their connections lost before they were released (for tests and logs). */
  reclaimed = 0;

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: Release) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: Release) => void): Promise<pg.PoolClient> | void {
    // `pool.query` checks out with a callback and always releases: only promise checkouts (transactions) are guarded.
    if (callback) return super.connect(callback);
    return super.connect().then((client) => this.guard(client));
  }

  private guard(client: pg.PoolClient): pg.PoolClient {
    const release: Release = client.release.bind(client);
    let released = false;
    const lost = () => {
      if (released) return;
      released = true;
      this.reclaimed++;
      detach();
      release(new Error("the connection ended while the client was checked out"));
    };
    const detach = () => {
      client.removeListener("end", lost);
      client.removeListener("error", lost);
    };
    client.once("end", lost);
    client.once("error", lost);
    client.release = (err?: Error | boolean) => {
      if (released) return;
      released = true;
      detach();
      release(err);
    };
    return client;
  }
}
