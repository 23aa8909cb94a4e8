// File front-end for the bounce classifier (used by `postgate bounce classify FILE…`).
// Reads each file and runs classifyMessage on its bytes; an unreadable file is reported as
// kind 'unknown' with reason 'read_error' instead of aborting the whole batch.
import { readFile } from 'node:fs/promises';
import { classifyMessage, type BounceKind } from './classify.js';

export interface FileClassification { file: string; kind: BounceKind; status: string | null; recipient: string | null; reason: string }

export async function classifyFiles(paths: string[]): Promise<FileClassification[]> {
  const out: FileClassification[] = [];
  for (const file of paths) {
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch {
      out.push({ file, kind: 'unknown', status: null, recipient: null, reason: 'read_error' });
      continue;
    }
    const c = await classifyMessage(raw);
    out.push({ file, kind: c.kind, status: c.status, recipient: c.recipient, reason: c.reason });
  }
  return out;
}
