// Postgate never stores card numbers: a report holding one (raw or decoded text) is kept without its
// raw bytes. PURE (no I/O), so that it can run in the classify pool's worker threads (classify-pool.ts):
// parsing a hostile 256 KiB report with mailparser takes long enough to stall the event loop.
import { simpleParser } from 'mailparser';
import { containsCardNumber } from '../policy/cards.js';

export async function holdsCardNumber(raw: Buffer): Promise<boolean> {
  if (containsCardNumber(raw.toString('latin1'))) return true;
  try {
    const parsed = await simpleParser(raw, { skipHtmlToText: false, skipTextToHtml: true, skipImageLinks: true });
    const texts = [parsed.subject ?? '', parsed.text ?? '', ...parsed.attachments
      .filter((a) => /^(text|message)\//i.test(a.contentType))
      .map((a) => a.content.toString('utf8'))];
    return texts.some((t) => containsCardNumber(t));
  } catch {
    return false;
  }
}
