// The fault-injecting SMTP server itself: its faults are what the other fault tests claim they are.
// Driven by Postgate's own SMTP client (src/platform/smtp.ts), so the outcome classification is
// checked on the way: drops and 4xx are temporary, 5xx permanent.
import { afterEach, describe, expect, it } from 'vitest';
import { createSmtpMailer, type Mailer, type SendOutcome } from '../../src/platform/smtp.js';
import { startFaultSmtp, type FaultOptions, type FaultSmtp } from '../support/fault-smtp.js';

const open: { smtp: FaultSmtp; mailer: Mailer }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) { o.mailer.close(); await o.smtp.close(); }
});

async function server(o: FaultOptions): Promise<{ smtp: FaultSmtp; mailer: Mailer }> {
  const smtp = await startFaultSmtp(o);
  const pair = { smtp, mailer: createSmtpMailer(smtp.url, 4, { requireTls: false }) };
  open.push(pair);
  return pair;
}

const mail = (i: number) => ({
  from: 'news@acme.org', to: `r${i}@inbox.example`, subject: `m${i}`, text: 'hello',
  messageId: `<m${i}@acme.org>`, headers: { 'X-Postgate-Message': `00000000-0000-4000-8000-${String(i).padStart(12, '0')}` },
});

/** Sends each message until it is accepted (or refused for good), as the ledger would. */
async function deliverAll(mailer: Mailer, n: number, maxAttempts = 30): Promise<SendOutcome[][]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => {
    const outcomes: SendOutcome[] = [];
    for (let a = 0; a < maxAttempts; a++) {
      const o = await mailer.send(mail(i));
      outcomes.push(o);
      if (o.kind !== 'temporary') break;
    }
    return outcomes;
  }));
}

describe('fault SMTP server', () => {
  it('is repeatable: the same seed decides every attempt the same way, another seed otherwise', async () => {
    // The client's view may differ between runs (its pool re-queues some messages itself when a 421
    // closes a connection), the server's decision for the n-th attempt of a recipient may not.
    const faults = { tempFailRate: 0.3, dropRate: 0.1, dropAfterAcceptRate: 0.05 };
    const runs = await Promise.all([1, 1, 2].map(async (seed) => {
      const { smtp, mailer } = await server({ seed, ...faults });
      await deliverAll(mailer, 60);
      return { fates: new Map(smtp.fates), accepted: smtp.accepted.size, temp: smtp.stats.tempFailures };
    }));
    expect(runs[0].accepted).toBe(60);
    expect(runs[0].temp).toBeGreaterThan(0);
    expect(runs[0].fates).toEqual(runs[1].fates);
    expect(runs[0].fates).not.toEqual(runs[2].fates);
    for (const f of runs[0].fates.values()) expect(f[f.length - 1]).toBe('accepted'); // each ends with the 250 read
  });

  it('a connection dropped in the middle of DATA never yields a message; dropped after acceptance, exactly one extra copy', async () => {
    const mid = await server({ seed: 5, dropRate: 1 });
    const refused = await Promise.all(Array.from({ length: 10 }, (_, i) => mid.mailer.send(mail(i))));
    expect(refused.every((o) => o.kind === 'temporary')).toBe(true);
    expect(mid.smtp.accepted.size).toBe(0);
    expect(mid.smtp.stats.droppedMidData).toBeGreaterThanOrEqual(10);

    const after = await server({ seed: 6, dropAfterAcceptRate: 0.5 });
    const outcomes = await deliverAll(after.mailer, 40);
    expect(outcomes.every((o) => o[o.length - 1].kind === 'sent')).toBe(true);
    expect(after.smtp.accepted.size).toBe(40);
    expect(after.smtp.stats.droppedAfterAccept).toBeGreaterThan(5);
    for (const [key, count] of after.smtp.accepted) expect(count).toBe((after.smtp.droppedAfterAccept.get(key) ?? 0) + 1);
    expect(after.smtp.duplicateCount()).toBe(after.smtp.stats.droppedAfterAccept);
  });

  it('answers 421/451 temporarily, 5xx for chosen recipients, and slowly when asked', async () => {
    const { smtp, mailer } = await server({ seed: 9, tempFailRate: 1, tempCodes: [421, 451], permanentFor: new Set(['r1@inbox.example']) });
    const [temp, perm] = await Promise.all([mailer.send(mail(0)), mailer.send(mail(1))]);
    expect(temp.kind).toBe('temporary');
    expect(perm).toMatchObject({ kind: 'permanent', code: 550 });
    smtp.setFaults({ tempFailRate: 0, slowMs: 150 });
    const t0 = Date.now();
    expect((await mailer.send(mail(2))).kind).toBe('sent');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290); // RCPT and end of DATA, 150 ms each
    expect(smtp.accepted.size).toBe(1);
  });
});
