// RFC 8058 one-click detection: a POST whose body carries the single field
// `List-Unsubscribe=One-Click`, sent by mail clients as application/x-www-form-urlencoded (parsed by
// express.urlencoded before the pages router) or as multipart/form-data (read here, bounded).
import type { Request } from 'express';

export const ONE_CLICK_FIELD = 'List-Unsubscribe';
export const ONE_CLICK_VALUE = 'One-Click';
const MAX_RAW_BYTES = 16 * 1024;

/** Past this, a body is not read any further: the connection is dropped (no client sends that much). */
const HARD_CAP_BYTES = 1024 * 1024;

/**
 * Reads an unparsed request body; null when it is larger than `limit` (then the rest is drained and
 * discarded, up to a hard cap beyond which the request is destroyed).
 */
export async function readRawBody(req: Request, limit = MAX_RAW_BYTES): Promise<Buffer | null> {
  if (req.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > HARD_CAP_BYTES) break; // leaving the loop destroys the request
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

/** The boundary parameter of a multipart content type, or null. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : null;
}

/** The text fields of a multipart/form-data body (files and malformed parts are ignored). */
export function multipartFields(body: string, boundary: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of body.split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break;
    const sep = part.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
    const at = part.indexOf(sep);
    if (at < 0) continue;
    const headers = part.slice(0, at);
    const name = /content-disposition:\s*form-data;[^\r\n]*?\bname="([^"]*)"/i.exec(headers);
    if (!name || /\bfilename=/i.test(headers)) continue;
    fields.set(name[1], part.slice(at + sep.length).replace(/\r?\n$/, ''));
  }
  return fields;
}

/** True when a parsed form body says List-Unsubscribe=One-Click. */
function formSaysOneClick(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const v = (body as Record<string, unknown>)[ONE_CLICK_FIELD];
  return v === ONE_CLICK_VALUE || (Array.isArray(v) && v.includes(ONE_CLICK_VALUE));
}

/**
 * Is this POST an RFC 8058 one-click request? urlencoded bodies arrive parsed; any other body
 * (multipart, or a client that sends the pair as text/plain) is read raw, bounded, and inspected.
 */
export async function isOneClick(req: Request): Promise<boolean> {
  if (formSaysOneClick(req.body)) return true;
  if (req.body !== undefined && req.is('application/x-www-form-urlencoded')) return false;
  const raw = await readRawBody(req);
  if (!raw || raw.length === 0) return false;
  const text = raw.toString('utf8');
  const boundary = multipartBoundary(req.get('content-type'));
  if (boundary) return multipartFields(text, boundary).get(ONE_CLICK_FIELD)?.trim() === ONE_CLICK_VALUE;
  return /(^|[&\s])List-Unsubscribe=One-Click($|[&\s])/.test(text);
}
