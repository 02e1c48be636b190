// Request/response helpers of the console's HTTP listener, written for a hostile client: bodies
// are read up to a byte bound and must be JSON objects; every error the page sees is a short
// message (HttpError's), never a stack; writes must come from the console's own origin.
import type http from 'node:http';

/** A request body larger than this is refused (413) without reading the rest. */
export const MAX_BODY_BYTES = 16 * 1024;

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  // The page loads only its own script and style; no framing (clickjacking), no inline script.
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export function sendJson(response: http.ServerResponse, status: number, value: unknown, extraHeaders: Record<string, string | string[]> = {}): void {
  const body = JSON.stringify(value);
  response.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extraHeaders });
  response.end(body);
}

export function sendFile(response: http.ServerResponse, contentType: string, body: Buffer, cacheControl: string): void {
  response.writeHead(200, { ...SECURITY_HEADERS, 'content-type': contentType, 'cache-control': cacheControl, 'content-length': body.length });
  response.end(body);
}

export function securityHeaders(): Record<string, string> {
  return { ...SECURITY_HEADERS };
}

/** The JSON object in the request body; HttpError 400/413/415 for anything else. */
export async function readJsonObject(request: http.IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'the body must be application/json');
  const declared = Number(request.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, `the body is larger than ${maxBytes} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Invariant: never more than maxBytes buffered for one request.
    if (size > maxBytes) {
      // Stop reading; the 413 goes out with Connection: close, so the rest is never read.
      request.pause();
      throw new HttpError(413, `the body is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/**
 * A state-changing request must come from a page of this console: its Origin (browsers send it on
 * every cross-site and same-site POST) must be this listener's own origin. Together with the
 * per-session token header and the SameSite=Strict cookie this stops cross-site request forgery.
 */
export function checkSameOrigin(request: http.IncomingMessage): void {
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin === undefined || host === undefined) throw new HttpError(403, 'write refused: the request has no Origin (writes come from the console page)');
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new HttpError(403, 'write refused: malformed Origin');
  }
  if (url.host !== host || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new HttpError(403, `write refused: Origin ${origin} is not this console`);
}

/** One string field of a JSON body, checked against a pattern; HttpError 400 naming the field. */
export function stringField(body: Record<string, unknown>, name: string, pattern: RegExp, what: string): string {
  const value = body[name];
  if (typeof value !== 'string' || !pattern.test(value)) throw new HttpError(400, `${name} must be ${what}`);
  return value;
}

export function integerField(body: Record<string, unknown>, name: string, min: number, max: number, fallback?: number): number {
  const value = body[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw new HttpError(400, `${name} must be an integer in [${min}, ${max}]`);
  return value;
}

/** A query parameter checked against a pattern (400 naming it), or null when absent and optional. */
export function queryParam(url: URL, name: string, pattern: RegExp, what: string, optional = false): string | null {
  const value = url.searchParams.get(name);
  if (value === null || value === '') {
    if (optional) return null;
    throw new HttpError(400, `${name} is required (${what})`);
  }
  if (!pattern.test(value)) throw new HttpError(400, `${name} must be ${what}`);
  return value;
}
