// The hand-over of finished messages to the SMTP pool (src/platform/smtp.ts): composeMessage's raw
// bytes go to nodemailer's pool already dot-stuffed and terminated (smtpData), past sendMail's
// message machinery and DataStream's per-byte loop. What the relay receives must be exactly the
// bytes composed: a line that starts with '.', the end-of-data sequence "\r\n.\r\n" inside a body
// (SMTP smuggling), bytes with a bare CR or LF (those take nodemailer's repairing path), through a
// real SMTP server (smtp-server un-stuffs what it receives), with DKIM still verifying.
import { generateKeyPairSync } from 'node:crypto';
import { PassThrough } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMessage, type ComposeInput } from '../../src/mail/compose.js';
import MimeNode from 'nodemailer/lib/mime-node';
import { createSmtpMailer, PreparedStream, smtpData, smtpEnvelope, type Mailer } from '../../src/platform/smtp.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
const TXT = `v=DKIM1; k=rsa; p=${publicKey.toString('base64')}`;
const resolver = async (name: string): Promise<string[][]> => (name === 's1._domainkey.acme.example' ? [[TXT]] : []);
const SMUGGLE = 'Hello\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nowned\r\n.\r\n';

function input(n: number, text: string): ComposeInput {
  return {
    messageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, kind: 'marketing',
    from: { name: 'Acme News', address: 'news@acme.example' }, replyTo: 'hello@acme.example',
    to: { name: `Reader ${n}`, address: `reader${n}@example.org` },
    rendered: { subject: `Issue ${n}`, html: `<p>Hi ${n}</p>\n<p>.</p>\n.<b>dot</b>\n<a href="https://x/u/tok">unsubscribe</a>`, text },
    messageIdDomain: 'acme.example', envelopeFrom: `bounces+t${n}@bounce.example`,
    listUnsubscribe: { url: 'https://x/u/tok' }, feedbackId: 'c:t:marketing:postgate',
    dkim: { domainName: 'acme.example', keySelector: 's1', privateKey },
  };
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('smtpData', () => {
  it('doubles a dot that starts a line, the first one too, and ends with the "." line', () => {
    expect(smtpData(bytes('.a\r\nb\r\n.\r\n..c\r\n'))?.toString('latin1')).toBe('..a\r\nb\r\n..\r\n...c\r\n.\r\n');
    expect(smtpData(bytes('Subject: x\r\n\r\nno dots. here.\r\n'))?.toString('latin1')).toBe('Subject: x\r\n\r\nno dots. here.\r\n.\r\n');
  });

  it('turns the end-of-data sequence inside a body into a stuffed line', () => {
    const out = smtpData(bytes(`Subject: x\r\n\r\n${SMUGGLE}`))!.toString('latin1');
    expect(out.indexOf('\r\n.\r\n')).toBe(out.length - 5); // only the real end
    expect(out).toContain('\r\nHello\r\n..\r\nMAIL FROM');
  });

  it('leaves bytes with a bare CR or LF, or without a final CRLF, to the repairing path', () => {
    expect(smtpData(bytes('a\rb\r\n'))).toBeNull();
    expect(smtpData(bytes('a\r.\rb\r\n'))).toBeNull();
    expect(smtpData(bytes('a\nb\r\n'))).toBeNull();
    expect(smtpData(bytes('\nb\r\n'))).toBeNull();
    expect(smtpData(bytes('a\r\nb'))).toBeNull();
    expect(smtpData(bytes('a\r\nb\r'))).toBeNull();
  });
});

describe('smtpEnvelope', () => {
  it("converts every address as nodemailer's sendMail does (plain ones untouched, the rest through MimeNode)", () => {
    const addresses = ['reader1@inbox.example', 'bounces+AbC_-1.x@bounce.example', 'Ann@Example.ORG', 'ann@jõgeva.ee', 'jõgi@jõgeva.ee', 'a..b@x.example',
      '"quoted local"@x.example', 'a@xn--jgeva-dua.ee', 'a@-bad.example', 'a@1.2.3.4', 'a@[127.0.0.1]', 'a@localhost', 'x@y.example ', ' <x@y.example>', 'a,b@x.example'];
    for (const from of addresses) {
      for (const to of addresses) {
        const reference = new MimeNode().setEnvelope({ from, to }).getEnvelope();
        expect(smtpEnvelope(from, to), `${from} -> ${to}`).toEqual({ from: reference.from, to: reference.to });
      }
    }
  });
});

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

describe('PreparedStream', () => {
  const raw = bytes('Subject: x\r\n\r\n.one\r\n.\r\ntwo\r\n');

  it("piped into nodemailer's DataStream, sends the prepared bytes once, neither stuffed twice nor terminated twice", async () => {
    const ds = new DataStream();
    const out = collect(ds);
    new PreparedStream(raw, smtpData(raw)!).pipe(ds);
    expect(await out).toBe('Subject: x\r\n\r\n..one\r\n..\r\ntwo\r\n.\r\n');
  });

  it('passes the prepared bytes through DataStream as they are (no per-byte pass, no second final line)', async () => {
    const ds = new DataStream();
    const out = collect(ds);
    new PreparedStream(raw, bytes('.prepared\nas is\r\n.\r\n')).pipe(ds);
    expect(await out).toBe('.prepared\nas is\r\n.\r\n');
    expect(ds.outByteCount).toBe('.prepared\nas is\r\n.\r\n'.length);
  });

  it('piped anywhere else, sends the raw bytes for that stream to stuff', async () => {
    const pass = new PassThrough();
    const out = collect(pass);
    new PreparedStream(raw, smtpData(raw)!).pipe(pass);
    expect(await out).toBe(raw.toString('latin1'));
  });
});

describe('createSmtpMailer through a real SMTP server', () => {
  let sink: SmtpSink;
  let mailer: Mailer;
  beforeAll(async () => {
    sink = await startSmtpSink({ onRcpt: (a) => (a.startsWith('refused') ? { code: 550, message: 'no such user' } : null) });
    mailer = createSmtpMailer(sink.url, 2, { requireTls: false });
  });
  afterAll(async () => { mailer.close(); await sink.close(); });

  it('delivers composed messages byte for byte: leading dots, a smuggled end of data, DKIM still valid', async () => {
    const texts = [SMUGGLE, '.\r\n..\r\n. leading\r\nend', 'plain'];
    const sent = texts.map((text, i) => composeMessage(input(i, text)));
    const outcomes = await Promise.all(sent.map((m) => mailer.send(m)));
    expect(outcomes.map((o) => o.kind)).toEqual(['sent', 'sent', 'sent']);
    const got = await sink.waitFor(3, 10_000);
    expect(got).toHaveLength(3);
    for (const m of sent) {
      const r = got.find((x) => x.envelopeTo[0] === (m.envelope as { to: string }).to)!;
      expect(r.envelopeFrom).toBe((m.envelope as { from: string }).from);
      expect(r.raw.equals(m.raw as Buffer)).toBe(true);
      expect((await dkimVerify(r.raw, { resolver })).results[0].status.result).toBe('pass');
    }
    const smuggled = got.find((r) => r.envelopeTo[0] === 'reader0@example.org')!;
    expect(smuggled.parsed.text).toBe(SMUGGLE.replace(/\r\n/g, '\n')); // one message, its text as written
    expect(sent.every((m) => got.some((r) => r.parsed.messageId === m.messageId))).toBe(true);
  });

  it('repairs raw bytes with a bare CR or LF on the way (no second message from "\\r.\\r")', async () => {
    const before = sink.received.length;
    const raw = bytes('From: a@acme.example\r\nTo: b@example.org\r\nSubject: bare\r\n\r\nline\r.\rMAIL FROM:<x@y.example>\nnext\r\n');
    const o = await mailer.send({ raw, envelope: { from: 'a@acme.example', to: 'bare@example.org' } });
    expect(o.kind).toBe('sent');
    const got = (await sink.waitFor(before + 1, 10_000)).slice(before);
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.received.length).toBe(before + 1);
    expect(got[0].raw.toString('latin1')).toBe('From: a@acme.example\r\nTo: b@example.org\r\nSubject: bare\r\n\r\nline\r\n.\r\nMAIL FROM:<x@y.example>\r\nnext\r\n');
  });

  it('sends the raw bytes given, not the DATA form composed for other bytes (raw replaced after composing)', async () => {
    const before = sink.received.length;
    const composed = composeMessage(input(9, 'original'));
    const other = Buffer.from((composed.raw as Buffer).toString('latin1').replace('Subject: Issue 9', 'Subject: Issue 9b'), 'latin1');
    expect((await mailer.send({ ...composed, raw: other })).kind).toBe('sent');
    const got = (await sink.waitFor(before + 1, 10_000)).slice(before);
    expect(got[0].raw.equals(other)).toBe(true);
  });

  it('classifies a refused recipient as permanent and keeps the connection for the next message', async () => {
    const refused = await mailer.send(composeMessage({ ...input(7, 'x'), to: { name: null, address: 'refused@example.org' } }));
    expect(refused).toMatchObject({ kind: 'permanent', code: 550 });
    expect((await mailer.send(composeMessage(input(8, 'y')))).kind).toBe('sent');
  });

  it('sends many messages over the pool, each exactly once', async () => {
    const before = sink.received.length;
    const sent = Array.from({ length: 40 }, (_, i) => composeMessage(input(100 + i, `.${i}\r\n`)));
    const outcomes = await Promise.all(sent.map((m) => mailer.send(m)));
    expect(outcomes.every((o) => o.kind === 'sent')).toBe(true);
    const got = (await sink.waitFor(before + 40, 10_000)).slice(before);
    expect(new Set(got.map((r) => r.envelopeTo[0])).size).toBe(40);
    for (const r of got) expect(r.raw.equals(sent.find((m) => (m.envelope as { to: string }).to === r.envelopeTo[0])!.raw as Buffer)).toBe(true);
  });
});
