/**
 * Admin forms read with a ceiling: `request.formData()` buffers whatever arrives, and a 64 MB import held the web
 * process for 53 s at 2.45 GB. The body is refused from its Content-Length when that is over the ceiling, and a
 * body without one stops being read at the first byte past it.
 */
import { MAX_IMPORT_FILE_BYTES } from "~/mapping/limits";
import { BodyTooLargeError, readBodyWithLimit } from "~/webhooks/read-body.server";

/**
 * The mappings page posts the file as multipart (the file's own bytes plus boundaries); a client that sends it
 * URL-encoded can triple it. Either way a file within MAX_IMPORT_FILE_BYTES fits, and nothing much larger is read.
 */
export const MAX_IMPORT_REQUEST_BYTES = 3 * MAX_IMPORT_FILE_BYTES + 64 * 1024;

/**
 * The editor posts the whole mapping as JSON in a form field: 200 properties of a 128-character key and a
 * 10,000-character template are about 2 MB, so 8 MiB leaves room for JSON and URL escaping.
 */
export const MAX_EDITOR_REQUEST_BYTES = 8 * 1024 * 1024;

export type BoundedForm = { ok: true; form: FormData } | { ok: false; reason: "too-large" | "unreadable" };

export async function readFormWithLimit(request: Request, maxBytes: number): Promise<BoundedForm> {
  let bytes: Buffer;
  try {
    bytes = await readBodyWithLimit(request, maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return { ok: false, reason: "too-large" };
    throw error;
  }
  const contentType = request.headers.get("content-type") ?? "application/x-www-form-urlencoded";
  try {
    return { ok: true, form: await new Response(new Uint8Array(bytes), { headers: { "content-type": contentType } }).formData() };
  } catch {
    // A multipart body that does not match its boundary, or a content type that is no form.
    return { ok: false, reason: "unreadable" };
  }
}
