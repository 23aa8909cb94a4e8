// The service logger never writes a card number: the logged object (deeply, keys and errors too),
// the message, its interpolation arguments and a child's bindings are redacted; REDACT paths still apply.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/platform/log.js';
import { CARD_REDACTION } from '../../src/policy/cards.js';

function capture(): { lines: () => Array<Record<string, unknown>>; text: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return { stream, text: () => chunks.join(''), lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('redacts card numbers in every part of a line', () => {
    const out = capture();
    const log = createLogger('info', false, out.stream);
    log.info({ ua: 'Mozilla 4111.1111.1111.1111', nested: { list: ['ok', '5555\u00a05555\u00a05555\u00a04444'] }, pan: 4111111111111111,
      err: new Error('declined \uff14\uff11\uff11\uff11111111111111') }, 'reply %s and 4111  1111  1111  1111', '4111-1111-1111-1111');
    log.child({ card: '4111\u200b1111\u200b1111\u200b1111' }).warn('child line');
    log.error('plain message 5555555555554444');
    const text = out.text();
    expect(text).not.toMatch(/4111|5555|\uff14\uff11/);
    const [first, child, plain] = out.lines();
    expect(first).toMatchObject({ ua: `Mozilla ${CARD_REDACTION}`, nested: { list: ['ok', CARD_REDACTION] }, pan: CARD_REDACTION,
      msg: `reply ${CARD_REDACTION} and ${CARD_REDACTION}` });
    expect((first.err as { message: string }).message).toBe(`declined ${CARD_REDACTION}`);
    expect(child).toMatchObject({ card: CARD_REDACTION, msg: 'child line' });
    expect(plain.msg).toBe(`plain message ${CARD_REDACTION}`);
  });

  it('keeps clean lines as they are and still applies the REDACT paths', () => {
    const out = capture();
    const log = createLogger('info', false, out.stream);
    log.info({ id: '550e8400-e29b-41d4-a716-446655440000', at: '2024-01-15', phone: '+44 20 7946 0958', password: 'hunter2' }, 'sent 12 messages');
    const [line] = out.lines();
    expect(line).toMatchObject({ id: '550e8400-e29b-41d4-a716-446655440000', at: '2024-01-15', phone: '+44 20 7946 0958', password: '[Redacted]', msg: 'sent 12 messages' });
  });
});
