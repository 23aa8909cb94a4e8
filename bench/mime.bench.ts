// Per-message CPU of building and signing one campaign message, in process, no database or SMTP:
// the campaign benchmark's newsletter (~25 KiB of HTML + text) with RSA-2048 DKIM, for N distinct
// recipients. Prints the milliseconds of CPU per message of each stage and the ratio of nodemailer
// building and signing the same messages (its MIME tree, QP streams, relaxed body in JS) to
// Postgate's raw builder (mail/mime.ts: memoised QP lines, one body hash, one signature), and
// mail/mime.ts's buildRaw alone ("build + DKIM alone" above also holds the gate, the tokens and
// nodemailer's send of the raw bytes).
// Run: npx tsx bench/run.ts mime   (MIME_BENCH_N overrides the number of messages, default 3000)
import { generateKeyPairSync, sign as rsaSign, createPrivateKey } from 'node:crypto';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { compileTemplate } from '../src/mail/render.js';
import { withCompliantFooter } from '../src/campaigns/content.js';
import { campaignRender, prepareRecipient, type BatchContext } from '../src/campaigns/recipient.js';
import type { ClaimedRow } from '../src/campaigns/claim.js';
import { DKIM_SIGNED_HEADERS } from '../src/mail/compose.js';
import { buildRaw, LineCodec } from '../src/mail/mime.js';
import type { Tenant } from '../src/tenants/store.js';
import { NEWSLETTER_MJML } from './newsletter.js';

const TENANT: Tenant = {
  id: '11111111-1111-4111-8111-111111111111', name: 'Acme', fromEmail: 'news@acme.org', fromName: 'Acme News', replyTo: 'support@acme.org',
  postalAddress: 'Acme Ltd, 1 Main St, Springfield', bounceDomain: null, requireDkim: true, sendRatePerSecond: null, trackClicks: false, trackOpens: false,
  defaultLocale: 'en', logoUrl: null, accentColor: null, privacyUrl: null,
};

function row(i: number): ClaimedRow {
  const hex = i.toString(16).padStart(12, '0');
  return {
    id: `33333333-3333-4333-8333-${hex}`, recipient: `reader${i}@inbox.example`, attempts: 1, reclaimed: false,
    contactId: `44444444-4444-4444-8444-${hex}`, contactStatus: 'active', email: `reader${i}@inbox.example`, name: `Reader ${i}`,
    attributes: { city: `City ${i % 50}` }, subscription: 'subscribed', suppressedAll: false, suppressedMarketing: false,
  };
}

/** CPU milliseconds per item of `fn` over `items` (user + system of this process). */
async function cpuPer<T>(items: T[], fn: (item: T) => unknown): Promise<number> {
  const c0 = process.cpuUsage();
  for (const item of items) await fn(item);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / items.length;
}

export default async function mimeBench(): Promise<void> {
  const n = Number(process.env.MIME_BENCH_N ?? 3000);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ctx: BatchContext = {
    tenant: TENANT, campaign: { id: '22222222-2222-4222-8222-222222222222', name: 'Weekly digest' }, replyTo: TENANT.replyTo,
    compiled: await compileTemplate(withCompliantFooter({ mjml: NEWSLETTER_MJML, subject: 'Your weekly digest, {{name}}', text: null })),
    dkim: { domain: 'acme.org', selector: 'bench', privateKey: pem } as BatchContext['dkim'],
    domains: { verified: ['acme.org'], envelope: null }, fromDomain: 'acme.org', publicUrl: 'https://postgate.bench', bounceDomain: 'bounces.postgate.bench',
    tokens: { current: 'k1', keys: { k1: 'bench-secret-0123456789abcdef' } },
  };
  const rows = Array.from({ length: n }, (_, i) => row(i + 1));
  const raw = nodemailer.createTransport({ streamTransport: true, buffer: true });
  // Warm-up: the JIT, the line memo, the parsed key.
  for (const r of rows.slice(0, 200)) { campaignRender(ctx, r)(); prepareRecipient(ctx, r); }

  const render = await cpuPer(rows, (r) => campaignRender(ctx, r)());
  let bytes = 0;
  const postgate = await cpuPer(rows, async (r) => {
    const p = prepareRecipient(ctx, r);
    if (p.kind !== 'mail') throw new Error(`refused: ${p.reason}`);
    bytes += (p.mail.raw as Buffer).length;
    await raw.sendMail(p.mail); // what nodemailer still does with raw bytes
  });
  const options: SendMailOptions[] = rows.map((r) => {
    const p = prepareRecipient(ctx, r);
    if (p.kind !== 'mail') throw new Error('refused');
    const { raw: _prebuilt, ...mail } = p.mail;
    return { ...mail, dkim: { domainName: 'acme.org', keySelector: 'bench', privateKey: pem, headerFieldNames: DKIM_SIGNED_HEADERS } };
  });
  const nodemailerBuild = await cpuPer(options, (m) => raw.sendMail(m));
  // mail/mime.ts alone (what composeMessage adds after its checks): a codec warmed on the first 200 messages.
  const plain = options.map(({ dkim: _signed, ...m }) => m);
  const rawDkim = { domainName: 'acme.org', keySelector: 'bench', privateKey: pem, headerFieldNames: DKIM_SIGNED_HEADERS };
  const codec = new LineCodec();
  for (const m of plain.slice(0, 200)) buildRaw(m, rawDkim, codec);
  const mimeAlone = await cpuPer(plain, (m) => buildRaw(m, rawDkim, codec));
  const key = createPrivateKey(pem);
  const signature = await cpuPer(rows, (r) => rsaSign('sha256', Buffer.from(`header block of ${r.id}`.repeat(20)), key));
  const nodemailerPer = nodemailerBuild + render; // the same messages, rendered the same way, built by nodemailer
  console.log(`${n} messages, ~${(bytes / n / 1024).toFixed(1)} KiB each on the wire, RSA-2048 DKIM; CPU ms per message:`);
  console.log(`  render (Handlebars + derived text part)      ${render.toFixed(3)}`);
  console.log(`  postgate: render + gate + raw build + DKIM    ${postgate.toFixed(3)}  (build + DKIM alone ${(postgate - render).toFixed(3)})`);
  console.log(`  nodemailer: render + its build + its DKIM      ${nodemailerPer.toFixed(3)}  (build + DKIM alone ${nodemailerBuild.toFixed(3)})`);
  console.log(`  mime.ts alone: raw build + DKIM (buildRaw)     ${mimeAlone.toFixed(3)}  (without the RSA signature ~${(mimeAlone - signature).toFixed(3)})`);
  console.log(`  one RSA-2048 signature                         ${signature.toFixed(3)}`);
  console.log(`ratio nodemailer / postgate, build + DKIM: ${(nodemailerBuild / (postgate - render)).toFixed(2)}; with rendering: ${(nodemailerPer / postgate).toFixed(2)}`);
}
