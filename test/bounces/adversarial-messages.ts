// Hostile inbound messages for the classifier (issue 12), shared by test/bounces/adversarial.test.ts
// (fast-check property) and bench/classify-adversarial.bench.ts: nested and repeated MIME
// delimiters, long lines, many parts, many headers, `<a@a@a…` runs, `<style<style…`, repeated DSN
// fields, deep nesting, base64 / quoted-printable garbage, encoded-word runs — up to the size limit.
import fc from 'fast-check';

export const SIZE_LIMIT = 256 * 1024; // INBOUND_MAX_BYTES default: what the listener keeps

const CRLF = '\r\n';
const fill = (unit: string, size: number): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const lineOf = (unit: string, len: number): string => fill(unit, len) + CRLF;

function bounceHead(contentType: string, extra = ''): string {
  return `From: MAILER-DAEMON@mx.example.net${CRLF}To: bounces+x@bounces.test${CRLF}Subject: Undelivered Mail Returned to Sender${CRLF}`
    + `MIME-Version: 1.0${CRLF}${extra}Content-Type: ${contentType}${CRLF}${CRLF}`;
}

/** The named worst cases of issue 12 and their relatives, at a given size. */
export function namedCases(size: number): Record<string, string> {
  const report = (dsnBody: string, text: string): string => bounceHead('multipart/report; report-type=delivery-status; boundary="b"')
    + `--b${CRLF}Content-Type: text/plain${CRLF}${CRLF}${text}${CRLF}--b${CRLF}Content-Type: message/delivery-status${CRLF}${CRLF}${dsnBody}${CRLF}--b--${CRLF}`;
  return {
    'a@ line': bounceHead('text/plain') + lineOf('<a@a@a@', size),
    'a@ 998-char lines': bounceHead('text/plain') + fill(`<${'a@'.repeat(498)}${CRLF}`, size),
    'a@a. lines': bounceHead('text/plain') + fill(`<${'a@a.'.repeat(249)}${CRLF}`, size),
    '<style<style': bounceHead('text/html') + lineOf('<style', size),
    '<br<br': bounceHead('text/html') + lineOf('<br', size),
    'repeated headers': fill(`Received: from a by b; Mon, 3 Jun 2024 10:00:00 +0000${CRLF}`, size) + bounceHead('text/plain') + 'x',
    'repeated Diagnostic-Code': report(fill(`Diagnostic-Code: smtp; 550 5.1.1 <a@b.example> user unknown${CRLF}`, size), 'x'),
    'many recipient groups': report(fill(`Action: failed${CRLF}Status: 5.0.0${CRLF}`, size / 2), fill(`<x@y.example>: host said 550 no${CRLF}`, size / 2)),
    'many Final-Recipients': report(fill(`Final-Recipient: rfc822; u@y.example${CRLF}Action: failed${CRLF}Status: 5.1.1${CRLF}${CRLF}`, size / 2),
      fill(`<u@y.example>: 550 5.1.1 unknown${CRLF}`, size / 2)),
    'nested same boundary': `Content-Type: multipart/mixed; boundary=b${CRLF}${CRLF}` + fill(`--b${CRLF}Content-Type: multipart/mixed; boundary=b${CRLF}${CRLF}`, size),
    'many parts': `Content-Type: multipart/mixed; boundary=b${CRLF}${CRLF}` + fill(`--b${CRLF}${CRLF}x${CRLF}`, size),
    'nested rfc822': fill(`Content-Type: message/rfc822${CRLF}${CRLF}`, size),
    'base64 garbage': bounceHead('text/plain', `Content-Transfer-Encoding: base64${CRLF}`) + fill('PGFAYUBh!*', size),
    'qp garbage': bounceHead('text/plain', `Content-Transfer-Encoding: quoted-printable${CRLF}`) + fill(`=3Ca@=${CRLF}=ZZ=`, size),
    'encoded words': `Subject: ${fill('=?utf-8?b?', size)}${CRLF}` + bounceHead('text/plain') + 'x',
    'long header': `X-Long: ${fill('a;b=', size)}${CRLF}` + bounceHead('text/plain') + 'x',
    'content-type params': `Content-Type: text/plain; ${fill('a', size)}${CRLF}${CRLF}x`,
    'inline DSN fields': bounceHead('text/plain') + `Reporting-MTA: dns; x${CRLF}` + fill(`Final-Recipient: rfc822; a@b.example${CRLF}Status: 5.1.1${CRLF}`, size),
    'status digits': bounceHead('text/plain') + fill(lineOf('5.5.5.', 998), size),
    'reply codes': bounceHead('text/plain') + fill(lineOf('550 550-', 998), size),
    'mailto runs': bounceHead('text/plain') + fill(lineOf('<a@b<mailto:', 998), size),
    'whitespace': bounceHead('text/plain') + fill(' \t', size),
  };
}

// ─────────────────────────────────────── fast-check ───────────────────────────────────────

const units = [
  '<a@', 'a@', 'a@a.', '<style', '<script', '<br', '<', '>', '&#', '&amp', '=?', '=?utf-8?b?', '?=', '=\r\n', '=ZZ', '--b', '--b--', ';',
  ':', 'a:', 'Diagnostic-Code: ', 'Status: 5.1.1', 'Action: failed', 'Final-Recipient: rfc822; ', '550 ', '5.7.1 ', '\r\n', '\r\n\r\n',
  ' ', '\t', 'x', 'user unknown ', 'mailbox full ', 'Content-Type: multipart/mixed; boundary=b\r\n\r\n', 'Content-Type: message/rfc822\r\n\r\n',
  'Content-Transfer-Encoding: base64\r\n', 'PGFAYUBh', '\u0000', '\u00ff', 'http://', 'original message follows', 'Feedback-Type: abuse\r\n',
];

/** A run: one adversarial unit repeated, or a few units concatenated and repeated. */
const run = fc.record({
  pieces: fc.array(fc.constantFrom(...units), { minLength: 1, maxLength: 4 }),
  times: fc.integer({ min: 1, max: 40_000 }),
}).map(({ pieces, times }) => { const unit = pieces.join(''); return unit.repeat(Math.min(times, Math.ceil(64 * 1024 / unit.length))); });

const headerBlock = fc.record({
  name: fc.constantFrom('Received', 'Subject', 'From', 'To', 'Content-Type', 'X-Failed-Recipients', 'Diagnostic-Code', 'Message-ID'),
  value: fc.oneof(run, fc.string({ maxLength: 200 })),
  times: fc.integer({ min: 1, max: 20_000 }),
}).map(({ name, value, times }) => { const line = `${name}: ${value.slice(0, 2000)}\r\n`; return line.repeat(Math.min(times, Math.ceil(SIZE_LIMIT / line.length))); });

const contentType = fc.constantFrom(
  'text/plain', 'text/html', 'multipart/mixed; boundary=b', 'multipart/report; report-type=delivery-status; boundary=b',
  'multipart/report; report-type=feedback-report; boundary="b"', 'message/rfc822', 'message/delivery-status', 'text/rfc822-headers',
  'message/feedback-report', `multipart/alternative; boundary="${'b'.repeat(500)}"`,
);

type Tree = { type: string; cte: string | null; body: string[]; children: Tree[] };

const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.record({
    type: contentType,
    cte: fc.constantFrom(null, 'base64', 'quoted-printable', '7bit'),
    body: fc.array(run, { maxLength: 4 }),
    children: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constant<Tree[]>([]), fc.array(tie('node'), { maxLength: 4 })),
  }),
})).node;

function render(t: Tree, depth = 0): string {
  const head = `Content-Type: ${t.type}\r\n${t.cte ? `Content-Transfer-Encoding: ${t.cte}\r\n` : ''}\r\n`;
  const kids = t.children.map((c) => `--b\r\n${render(c, depth + 1)}\r\n`).join('');
  return head + t.body.join('\r\n') + (kids ? `\r\n${kids}--b--\r\n` : '');
}

/** Any message up to SIZE_LIMIT bytes built from adversarial pieces. */
export const adversarialMessage: fc.Arbitrary<string> = fc.record({
  headers: fc.array(headerBlock, { maxLength: 3 }),
  body: tree,
  trailer: fc.array(run, { maxLength: 2 }),
}).map(({ headers, body, trailer }) => {
  const whole = `From: MAILER-DAEMON@x.example\r\n${headers.join('')}${render(body)}${trailer.join('\r\n')}`;
  return Buffer.from(whole.slice(0, SIZE_LIMIT), 'latin1').toString('latin1'); // a copy: the slice would keep `whole` alive
});
