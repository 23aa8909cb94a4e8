// The HTTP side of POST /api/imports (an API file: it reads the request and answers 413/415/422).
// Receiving an import's file: multipart/form-data (busboy: an `options` JSON part, then a `file`
// part) or a raw text/csv body, streamed straight into import_chunks in ~1 MiB pieces (one short
// transaction each), so the web process never holds the file and the upload ties up no pooled
// connection between pieces. The size limit (IMPORT_MAX_BYTES) is enforced on the bytes read: 413.
// Any failure deletes the import (its pieces cascade): nothing half-uploaded is ever run.
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import type { Request, Response } from 'express';
import type { Db } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { ApiError, parse, tooLarge, type AuthContext } from '../platform/http.js';
import { DomainError } from '../domain-error.js';
import { findCardData } from '../policy/cards.js';
import { listsByIds } from '../consent/lists.js';
import { importOptions, type ImportOptions } from './import-options.js';
import { appendChunk, createImport, discardUpload, purgeStaleUploads, uploadComplete, type Attestation, type ImportRow } from './imports.js';

/** Bytes per stored piece of the file. */
export const CHUNK_BYTES = 1024 * 1024;
/** The options JSON (a query parameter or a multipart part) is at most this long. */
const MAX_OPTIONS_BYTES = 64 * 1024;

/** Reads a stream without destroying it when the reader stops early (the 413 must still reach the client). */
function piecesOf(stream: Readable): AsyncIterable<Buffer> {
  return { [Symbol.asyncIterator]: () => stream.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer> };
}

/** The options as text (query parameter or part) → validated options; 422 naming the field (options.consent.source…). */
export function readOptions(text: string | undefined): ImportOptions {
  let value: unknown = {};
  if (text !== undefined) {
    if (text.length > MAX_OPTIONS_BYTES) throw new ApiError(413, 'body_too_large', 'the options are longer than 64 KiB', 'options');
    try { value = JSON.parse(text); } catch { throw new ApiError(422, 'invalid', 'options: must be a JSON object', 'options'); }
  }
  // The query was card-checked by the HTTP layer; a multipart options part is checked here (the attestation is stored).
  const card = findCardData(value, 'options');
  if (card) throw new DomainError('card_data_rejected', 'payment-card numbers are never accepted or stored', card);
  return parse(importOptions, value, 'options.');
}

/** Every list of options.lists must be one of the tenant's live, unarchived lists: 422 naming options.lists[i]. */
async function checkLists(db: Db, tenantId: string, o: ImportOptions): Promise<void> {
  if (o.lists.length === 0) return;
  const found = new Map((await db.withTenant(tenantId, (c) => listsByIds(c, o.lists.map((l) => l.toLowerCase())))).map((l) => [l.id, l]));
  o.lists.forEach((id, i) => {
    const l = found.get(id.toLowerCase());
    if (!l) throw new DomainError('unknown_list', `list ${id} does not exist`, `options.lists[${i}]`);
    if (l.archivedAt) throw new DomainError('list_archived', `list ${id} is archived`, `options.lists[${i}]`);
  });
}

/** Charsets a raw body may declare, as the import encoding they mean. */
const CHARSETS: Record<string, ImportOptions['encoding']> = {
  'utf-8': 'utf-8', utf8: 'utf-8', 'us-ascii': 'utf-8', 'windows-1252': 'windows-1252', cp1252: 'windows-1252',
  'iso-8859-1': 'latin1', latin1: 'latin1', 'iso_8859-1': 'latin1',
};

/** A Content-Encoding (gzip…) is refused with 415: the file is stored as sent and read back as CSV text. */
function refuseContentEncoding(req: Request): void {
  const coding = (req.get('content-encoding') ?? '').trim().toLowerCase();
  if (coding && coding !== 'identity') {
    throw new ApiError(415, 'unsupported_encoding', `Content-Encoding ${coding.slice(0, 40)} is not accepted: send the file uncompressed`, 'content-encoding');
  }
}

/** A raw body's charset becomes the import encoding: 415 for one the import cannot read, 422 when it contradicts options.encoding. */
function withCharset(req: Request, o: ImportOptions): ImportOptions {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase();
  if (charset === undefined) return o;
  const encoding = CHARSETS[charset];
  if (!encoding) throw new ApiError(415, 'unsupported_encoding', `charset ${charset.slice(0, 40)} is not accepted: send utf-8, windows-1252 or iso-8859-1`, 'content-type');
  if (o.encoding && o.encoding !== encoding) throw new ApiError(422, 'invalid', `options.encoding ${o.encoding} contradicts the body's charset ${charset}`, 'options.encoding');
  return { ...o, encoding };
}

/** Writes the stream as pieces of the import; returns its size. Throws 413 past maxBytes, 422 for an empty file. */
async function writePieces(db: Db, tenantId: string, importId: string, source: AsyncIterable<Buffer>, maxBytes: number): Promise<number> {
  let bytes = 0;
  let seq = 0;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const flush = async () => {
    if (heldBytes === 0) return;
    const data = Buffer.concat(held, heldBytes);
    held = []; heldBytes = 0;
    await db.withTenant(tenantId, (c) => appendChunk(c, tenantId, importId, seq++, data));
  };
  for await (const piece of source) {
    bytes += piece.length;
    if (bytes > maxBytes) throw tooLarge(maxBytes);
    held.push(piece); heldBytes += piece.length;
    if (heldBytes >= CHUNK_BYTES) await flush();
  }
  await flush();
  if (bytes === 0) throw new ApiError(422, 'invalid', 'file: the file is empty', 'file');
  return bytes;
}

/** What one upload needs from the request. */
export interface UploadRequest { req: Request; res: Response; auth: AuthContext; queryOptions: string | undefined; log?: Logger }

/**
 * Receives the file of POST /api/imports into a new, queued import and returns it (the caller
 * enqueues its job). Options come from the query (?options=<JSON>) or from a multipart part named
 * `options` before the `file` part, never both.
 */
export async function receiveImport(db: Db, u: UploadRequest, maxBytes: number): Promise<ImportRow> {
  const tenantId = u.auth.tenantId;
  // A multipart upload may be refused (a bad part) while its file is being stored: whichever comes
  // second, the refusal or the import's creation, deletes the import.
  const state: { importId: string | null; aborted: boolean } = { importId: null, aborted: false };
  const discard = (id: string) => db.withTenant(tenantId, (c) => discardUpload(c, id)).catch(() => undefined);
  const begin = async (o: ImportOptions, file: AsyncIterable<Buffer>): Promise<number> => {
    await checkLists(db, tenantId, o);
    const id = await db.withTenant(tenantId, async (c) => {
      await purgeStaleUploads(c);
      return createImport(c, tenantId, { dryRun: o.dryRun, options: o, attestation: attestationOf(o, u.auth.keyId), createdBy: u.auth.keyId });
    });
    state.importId = id;
    if (state.aborted) { await discard(id); throw new Error('upload refused'); }
    return writePieces(db, tenantId, id, file, maxBytes);
  };
  try {
    const multipart = /^multipart\/form-data/i.test(u.req.get('content-type') ?? '');
    refuseContentEncoding(u.req);
    const bytes = multipart ? await receiveMultipart(u, maxBytes, begin) : await begin(withCharset(u.req, readOptions(u.queryOptions)), piecesOf(u.req));
    const id = state.importId;
    if (!id) throw new Error('upload finished without an import');
    return await db.withTenant(tenantId, (c) => uploadComplete(c, id, bytes));
  } catch (err) {
    state.aborted = true;
    if (state.importId) await discard(state.importId);
    if (!u.req.complete && u.req.destroyed && !(err instanceof ApiError && err.status !== 400) && !(err instanceof DomainError)) {
      // The client went away mid-upload (its reset is no server error): said once, at info; nothing is kept.
      u.log?.info({ tenantId, bytes: u.req.socket?.bytesRead ?? null }, 'import upload abandoned by the client; nothing kept');
      throw new ApiError(400, 'bad_request', 'the upload was interrupted', 'body');
    }
    stopReading(u);
    throw err;
  }
}

/** After a refused upload: answer, then close the connection; what the client still sends is read and dropped. */
function stopReading(u: UploadRequest): void {
  if (u.req.complete) return;
  u.res.setHeader('Connection', 'close');
  u.req.unpipe();
  u.req.resume();
}

/** The attestation of an import: the importing key, and what its options state (null without options.consent). */
function attestationOf(o: ImportOptions, keyId: string): Attestation | null {
  if (!o.consent) return null;
  return { by: keyId, source: o.consent.source, text: o.consent.text ?? null, date: o.consent.date ?? null, ip: o.consent.ip ?? null };
}

/** Reads a multipart body: an optional `options` part first, then exactly one `file` part, handed to `begin` as it streams. */
function receiveMultipart(u: UploadRequest, maxBytes: number, begin: (o: ImportOptions, file: AsyncIterable<Buffer>) => Promise<number>): Promise<number> {
  return new Promise((resolve, reject) => {
    let optionsText: string | undefined;
    let work: Promise<number> | null = null;
    let settled = false;
    let current: Readable | null = null;
    // Refused: the file part (if any) ends with an error, so its storing stops too.
    const fail = (err: unknown) => { if (!settled) { settled = true; current?.destroy(new Error('upload refused')); reject(err); } };
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: u.req.headers, limits: { files: 1, fields: 2, parts: 3, fieldSize: MAX_OPTIONS_BYTES, fileSize: maxBytes + 1 } });
    } catch {
      fail(new ApiError(415, 'unsupported_media_type', 'multipart/form-data needs a boundary', 'content-type'));
      return;
    }
    bb.on('field', (name, value, info) => {
      if (name !== 'options') return fail(new ApiError(422, 'invalid', `unknown part "${name.slice(0, 50)}": send the parts options and file`, name.slice(0, 50)));
      if (work) return fail(new ApiError(422, 'invalid', 'options: the options part must come before the file part', 'options'));
      if (optionsText !== undefined) return fail(new ApiError(422, 'invalid', 'options: send one options part', 'options'));
      if (info.valueTruncated) return fail(new ApiError(413, 'body_too_large', 'the options are longer than 64 KiB', 'options'));
      optionsText = value;
    });
    bb.on('file', (name, file) => {
      if (name !== 'file') { file.resume(); return fail(new ApiError(422, 'invalid', `unknown part "${name.slice(0, 50)}": the file part is named file`, name.slice(0, 50))); }
      current = file;
      file.on('error', () => undefined); // a refused upload destroys it; its reader (if any) sees the error
      try {
        if (optionsText !== undefined && u.queryOptions !== undefined) throw new ApiError(422, 'invalid', 'options: give the options once (query or part)', 'options');
        work = begin(readOptions(optionsText ?? u.queryOptions), piecesOf(file));
        work.catch((err: unknown) => { file.resume(); fail(err); });
      } catch (err) { file.resume(); fail(err); }
    });
    bb.on('filesLimit', () => fail(new ApiError(422, 'invalid', 'file: send one file', 'file')));
    bb.on('partsLimit', () => fail(new ApiError(422, 'invalid', 'send only the parts options and file', 'body')));
    bb.on('fieldsLimit', () => fail(new ApiError(422, 'invalid', 'send only the parts options and file', 'body')));
    bb.on('error', () => fail(new ApiError(422, 'invalid', 'the multipart body is malformed', 'body')));
    bb.on('close', () => {
      if (!work) return fail(new ApiError(422, 'invalid', 'file: the file part is missing', 'file'));
      work.then((n) => { if (!settled) { settled = true; resolve(n); } }, fail);
    });
    u.req.on('close', () => { if (!u.req.complete) fail(new ApiError(400, 'bad_request', 'the upload was interrupted', 'body')); });
    u.req.pipe(bb);
  });
}
