import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { classifyMessage, classifyStatus, type BounceKind } from '../../src/bounces/classify.js';
import { classifyFiles } from '../../src/bounces/classify-files.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CORPUS = path.resolve(REPO_ROOT, 'test', 'fixtures', 'bounces');

interface DsnOptions { status: string; diag?: string; action?: string; rcpt?: string; headers?: string }

/** A small RFC 3464 report: explanation, delivery-status fields, returned headers. */
function dsn(o: DsnOptions): string {
  const diag = o.diag === undefined ? '' : `Diagnostic-Code: smtp; ${o.diag}\n`;
  return `From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: bounces+abc123=example.com@postgate.test
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BND"
${o.headers ?? ''}
--BND
Content-Type: text/plain

This is the mail system at host mx.example.net.
I'm sorry to have to inform you that your message could not be delivered.

--BND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; ${o.rcpt ?? 'Jane.Doe@Example.COM'}
Action: ${o.action ?? 'failed'}
Status: ${o.status}
${diag}
--BND
Content-Type: text/rfc822-headers

From: news@postgate.test
To: jane.doe@example.com
Subject: Hello
Message-ID: <orig-1@postgate.test>

--BND--
`;
}

function arf(feedbackType: string): string {
  return `From: feedback@fbl.example.org
To: fbl@postgate.test
Subject: Abuse report
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"

--ARF
Content-Type: text/plain

This is an email abuse report.

--ARF
Content-Type: message/feedback-report

Feedback-Type: ${feedbackType}
User-Agent: ExampleFBL/1.0
Version: 1
Original-Mail-From: <bounces+x@postgate.test>
Original-Rcpt-To: <Reader@Example.org>
Arrival-Date: Thu, 29 Apr 2021 23:34:45 +0000

--ARF
Content-Type: message/rfc822

From: news@postgate.test
To: reader@example.org
Subject: Weekly news
Message-ID: <news-42@postgate.test>

Hello
--ARF--
`;
}

function plain(headers: string, body: string): string {
  return `${headers}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n${body}\n`;
}

describe('bounce corpus', () => {
  it('classifies the shared fixture corpus (>= 95%, no false hard, no missed complaint)', async () => {
    const tsv = await readFile(path.join(CORPUS, 'expected.tsv'), 'utf8');
    const rows = tsv.trim().split('\n').map((line) => line.split('\t') as [string, BounceKind]);
    const wrong: string[] = [];
    const wrongHard: string[] = [];
    const missedComplaint: string[] = [];
    for (const [file, expected] of rows) {
      const got = await classifyMessage(await readFile(path.join(CORPUS, file)));
      if (got.kind === expected) continue;
      wrong.push(`${file}: expected ${expected}, got ${got.kind} (${got.reason})`);
      if (got.kind === 'hard') wrongHard.push(file);
      if (expected === 'complaint') missedComplaint.push(file);
    }
    const correct = rows.length - wrong.length;
    const accuracy = correct / rows.length;
    console.log(`bounce corpus: ${correct}/${rows.length} correct (${(accuracy * 100).toFixed(1)}%)`);
    for (const line of wrong) console.log(`  misclassified ${line}`);
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(wrongHard).toEqual([]);
    expect(missedComplaint).toEqual([]);
  });
});

describe('classifyMessage: RFC 3464 reports', () => {
  it('5.1.1 user unknown is hard, with recipient, ids and envelope', async () => {
    const c = await classifyMessage(dsn({ status: '5.1.1', diag: '550 5.1.1 <Jane.Doe@Example.COM>: Recipient address rejected: User unknown in virtual mailbox table' }));
    expect(c.kind).toBe('hard');
    expect(c.reason).toBe('userunknown');
    expect(c.status).toBe('5.1.1');
    expect(c.recipient).toBe('jane.doe@example.com');
    expect(c.originalMessageId).toBe('<orig-1@postgate.test>');
    expect(c.envelopeTo).toEqual(['bounces+abc123=example.com@postgate.test']);
    expect(c.diagnostic).toContain('User unknown');
    expect(c.recipients).toEqual([{ recipient: 'jane.doe@example.com', action: 'failed', status: '5.1.1', diagnostic: c.diagnostic, kind: 'hard', reason: 'userunknown' }]);
  });

  it('5.2.2 mailbox full is soft', async () => {
    const c = await classifyMessage(dsn({ status: '5.2.2', diag: '552 5.2.2 <jane@example.com>... Mailbox full' }));
    expect([c.kind, c.reason]).toEqual(['soft', 'mailboxfull']);
  });

  it('a quota text beats a 5.1.1 status', async () => {
    const c = await classifyMessage(dsn({ status: '5.1.1', diag: '550 5.1.1 user is over quota' }));
    expect(c.kind).toBe('soft');
  });

  it('4.x.x failures and delayed actions are soft', async () => {
    expect((await classifyMessage(dsn({ status: '4.4.7', diag: '421 4.4.2 Connection timed out' }))).kind).toBe('soft');
    const delayed = await classifyMessage(dsn({ status: '4.4.1', action: 'delayed' }));
    expect([delayed.kind, delayed.reason]).toEqual(['soft', 'delayed']);
    expect((await classifyMessage(dsn({ status: '4.2.0', diag: '450 4.2.0 Greylisted, try again later' }))).kind).toBe('soft');
  });

  it('5.7.1 spam and blocklist rejections are blocked', async () => {
    const spam = await classifyMessage(dsn({ status: '5.7.1', diag: '550 5.7.1 Message rejected as spam by Content Filtering.' }));
    expect([spam.kind, spam.reason]).toEqual(['blocked', 'spamdetected']);
    const rbl = await classifyMessage(dsn({ status: '5.7.1', diag: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org' }));
    expect([rbl.kind, rbl.reason]).toEqual(['blocked', 'blocked']);
  });

  it('the diagnostic beats a 5.1.1 or 5.0.0 status for policy rejections', async () => {
    expect((await classifyMessage(dsn({ status: '5.1.1', diag: '550 5.1.1 Your IP 192.0.2.1 is listed on the Spamhaus blocklist' }))).kind).toBe('blocked');
    expect((await classifyMessage(dsn({ status: '5.0.0', diag: '550 Message rejected due to DMARC policy' }))).kind).toBe('blocked');
    expect((await classifyMessage(dsn({ status: '5.7.1', diag: '550 5.7.1 Recipient address rejected: User unknown' }))).kind).toBe('blocked');
  });

  it('host unknown and moved mailboxes are hard', async () => {
    expect((await classifyMessage(dsn({ status: '5.1.2', diag: '550 5.1.2 Host or domain name not found' }))).reason).toBe('hostunknown');
    expect((await classifyMessage(dsn({ status: '5.4.4', diag: '554 5.4.4 Domain does not exist' }))).kind).toBe('hard');
    expect((await classifyMessage(dsn({ status: '5.1.6', diag: '551 5.1.6 recipient no longer on server' }))).reason).toBe('hasmoved');
  });

  it('uses the explanation text when the DSN has no diagnostic', async () => {
    const raw = dsn({ status: '5.5.0' }).replace('could not be delivered.', 'could not be delivered.\n\n----- Transcript of session follows -----\nmail.local: unknown user: jane');
    expect((await classifyMessage(raw)).kind).toBe('hard');
  });

  it('a bare 5.0.0 with an untyped, code-less diagnostic is never hard', async () => {
    const raw = dsn({ status: '5.0.0' }).replace('Status: 5.0.0', 'Status: 5.0.0\nDiagnostic-Code: The email account that you tried to reach does not exist.');
    expect((await classifyMessage(raw)).kind).not.toBe('hard');
  });

  it('reports every recipient and takes the worst one overall', async () => {
    const raw = dsn({ status: '4.2.2', diag: '452 4.2.2 Mailbox full', rcpt: 'a@example.com' })
      .replace('\n--BND\nContent-Type: text/rfc822-headers', '\nFinal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 No such user\n\n--BND\nContent-Type: text/rfc822-headers');
    const c = await classifyMessage(raw);
    expect(c.recipients.map((r) => [r.recipient, r.kind])).toEqual([['a@example.com', 'soft'], ['b@example.com', 'hard']]);
    expect([c.kind, c.recipient]).toEqual(['hard', 'b@example.com']);
  });

  it('handles CRLF and bare-CR line endings alike', async () => {
    const lf = dsn({ status: '5.1.1', diag: '550 5.1.1 User unknown' });
    for (const raw of [lf.replace(/\n/g, '\r\n'), lf.replace(/\n/g, '\r')]) {
      const c = await classifyMessage(Buffer.from(raw));
      expect([c.kind, c.recipient, c.originalMessageId]).toEqual(['hard', 'jane.doe@example.com', '<orig-1@postgate.test>']);
    }
  });
});

describe('classifyMessage: text bounces', () => {
  it('qmail', async () => {
    const c = await classifyMessage(plain('From: MAILER-DAEMON@mx.example.jp\nTo: sender@postgate.test\nSubject: failure notice', `Hi. This is the qmail-send program at mx.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<Kijitora@Example.jp>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Message-ID: <q-1@postgate.test>
To: kijitora@example.jp
Subject: hi`));
    expect([c.kind, c.status, c.recipient, c.originalMessageId]).toEqual(['hard', '5.1.1', 'kijitora@example.jp', '<q-1@postgate.test>']);
  });

  it('Exim with X-Failed-Recipients', async () => {
    const c = await classifyMessage(plain('From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: sender@postgate.test\nX-Failed-Recipients: jane@example.org\nSubject: Mail delivery failed: returning message to sender\nAuto-Submitted: auto-replied', `This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  jane@example.org
    host mx.example.org [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<jane@example.org>:
    550 5.7.1 Service unavailable; client [192.0.2.9] blocked using bl.spamcop.net

------ This is a copy of the message, including all the headers. ------
`));
    expect([c.kind, c.recipient, c.reason]).toEqual(['blocked', 'jane@example.org', 'blocked']);
  });

  it('Exchange 2003 and Domino style notices', async () => {
    const exchange = await classifyMessage(plain('From: System Administrator <postmaster@example.co.jp>\nTo: sender@postgate.test\nSubject: Undeliverable: hello', `Your message

  To:      kijitora@example.co.jp
  Subject: hello

did not reach the following recipient(s):

kijitora@example.co.jp on Thu, 29 Apr 2010 23:34:45 +0900
    The e-mail account does not exist at the organization this message was sent to.
    <mx.example.co.jp #5.1.1 SMTP; 550 5.1.1 <kijitora@example.co.jp>... User Unknown>`));
    expect([exchange.kind, exchange.recipient]).toEqual(['hard', 'kijitora@example.co.jp']);
    const domino = await classifyMessage(plain('From: Postmaster@example.com\nTo: sender@postgate.test\nSubject: DELIVERY FAILURE: User kijitora (kijitora@example.com) not listed in Domino Directory', `Your message

  Subject: hello

was not delivered to:

  kijitora@example.com

because:

  User kijitora (kijitora@example.com) not listed in Domino Directory`));
    expect(domino.kind).toBe('hard');
  });

  it('finds the error when it is away from the recipient line', async () => {
    const notices: Array<[string, string, string]> = [
      ['Undeliverable Mail', 'Body of message generated response:\n\nUnknown user: kijitora@example.com\n\nOriginal message follows.\n\nFrom: sender@postgate.test', 'kijitora@example.com'],
      ['Undeliverable Mail: "hello"', 'Your message:\n\n   From:    sender@postgate.test\n\nCould not be delivered because of\n\n550 5.1.1 User unknown\n\nThe following recipients were affected:\n    dummy@example.com', 'dummy@example.com'],
      ['[BOUNCE]', 'Failed recipient(s):\nkijitora@example.org\n\nError message:\n550 - Requested action not taken: no such user here', 'kijitora@example.org'],
    ];
    for (const [subject, body, rcpt] of notices) {
      const c = await classifyMessage(plain(`From: postmaster@mx.example.com\nTo: sender@postgate.test\nSubject: ${subject}`, body));
      expect([subject, c.kind, c.recipient]).toEqual([subject, 'hard', rcpt]);
    }
  });

  it('Gmail delay notices are soft', async () => {
    const c = await classifyMessage(plain('From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: sender@postgate.test\nSubject: Delivery Status Notification (Delay)', `This is an automatically generated Delivery Status Notification

THIS IS A WARNING MESSAGE ONLY.

Delivery to the following recipient has been delayed:

     kijitora@example.com

Message will be retried for 2 more day(s)`));
    expect([c.kind, c.reason, c.recipient]).toEqual(['soft', 'delayed', 'kijitora@example.com']);
  });
});

describe('classifyMessage: complaints', () => {
  it('ARF feedback reports are complaints', async () => {
    const c = await classifyMessage(arf('abuse'));
    expect(c.kind).toBe('complaint');
    expect(c.feedbackType).toBe('abuse');
    expect(c.reason).toBe('feedback');
    expect(c.recipient).toBe('reader@example.org');
    expect(c.originalMessageId).toBe('<news-42@postgate.test>');
  });

  it('Amazon SES / SNS JSON notifications', async () => {
    const complaint = JSON.stringify({ notificationType: 'Complaint', complaint: { complaintFeedbackType: 'abuse', complainedRecipients: [{ emailAddress: 'Reader@example.org' }] }, mail: { commonHeaders: { messageId: '<ses-1@postgate.test>' } } });
    const c = await classifyMessage(plain('From: no-reply@sns.amazonaws.com\nTo: ops@postgate.test\nSubject: AWS Notification Message', complaint));
    expect([c.kind, c.recipient, c.feedbackType, c.originalMessageId]).toEqual(['complaint', 'reader@example.org', 'abuse', '<ses-1@postgate.test>']);
    const bounce = JSON.stringify({ Type: 'Notification', Message: JSON.stringify({ notificationType: 'Bounce', bounce: { bounceType: 'Permanent', bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'gone@example.org', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] } }) });
    const b = await classifyMessage(plain('From: no-reply@sns.amazonaws.com\nTo: ops@postgate.test\nSubject: AWS Notification Message', bounce));
    expect([b.kind, b.recipient, b.status]).toEqual(['hard', 'gone@example.org', '5.1.1']);
  });
});

describe('classifyMessage: auto-replies', () => {
  it('Auto-Submitted: auto-replied is an autoreply', async () => {
    const c = await classifyMessage(plain('From: Jane <Jane@example.com>\nTo: news@postgate.test\nSubject: Re: Weekly news\nAuto-Submitted: auto-replied\nIn-Reply-To: <news-42@postgate.test>', 'Thanks for your message.'));
    expect([c.kind, c.recipient, c.originalMessageId]).toEqual(['autoreply', 'jane@example.com', '<news-42@postgate.test>']);
  });

  it('recognises out-of-office subjects in several languages', async () => {
    const subjects = [
      'Out of Office: Weekly news',
      'Automatic reply: Weekly news',
      'Auto: Weekly news',
      'Abwesenheitsnotiz: Weekly news',
      '=?UTF-8?Q?R=C3=A9ponse_automatique_:_Weekly_news?=',
      '=?UTF-8?B?UmVzcHVlc3RhIGF1dG9tw6F0aWNhOiBXZWVrbHkgbmV3cw==?=',
      'Risposta automatica: Weekly news',
      'Afwezig: Weekly news',
      `=?UTF-8?B?${Buffer.from('自动回复: Weekly news').toString('base64')}?=`,
    ];
    for (const subject of subjects) {
      const c = await classifyMessage(plain(`From: jane@example.com\nTo: news@postgate.test\nSubject: ${subject}`, 'Hello.'));
      expect([subject, c.kind]).toEqual([subject, 'autoreply']);
    }
    const header = await classifyMessage(plain('From: jane@example.com\nTo: news@postgate.test\nSubject: Re: hi\nX-Autoreply: yes', 'Hello.'));
    expect(header.kind).toBe('autoreply');
  });

  it('a DSN marked auto-replied stays a bounce', async () => {
    const c = await classifyMessage(dsn({ status: '5.1.1', diag: '550 5.1.1 User unknown' }));
    expect(c.kind).toBe('hard');
  });
});

describe('classifyMessage: bad input', () => {
  it('returns unknown without throwing', async () => {
    const inputs: Array<Buffer | string> = [
      '', Buffer.alloc(0), 'garbage without any headers at all', Buffer.from([0, 255, 1, 254, 13, 10, 13, 10, 7]),
      'Content-Type: multipart/report; boundary="never-used"\n\nno parts here',
      'Subject: hello\n\njust a normal message',
      `Content-Type: message/rfc822\n\n${'Content-Type: message/rfc822\n\n'.repeat(50)}x`,
    ];
    for (const raw of inputs) {
      const c = await classifyMessage(raw);
      expect(c.kind).toBe('unknown');
      expect(Array.isArray(c.recipients)).toBe(true);
    }
  });
});

describe('classifyStatus', () => {
  const cases: Array<[string | null, string | null, BounceKind]> = [
    ['5.1.1', '550 5.1.1 The email account that you tried to reach does not exist.', 'hard'],
    ['5.0.0', '550 Requested action not taken: mailbox unavailable', 'hard'],
    [null, '554 delivery error: dd This user doesn\'t have a yahoo.com account', 'hard'],
    ['5.4.1', '550 5.4.1 Recipient address rejected: Access denied', 'hard'],
    ['5.1.0', '550 5.1.0 192.0.2.1 is not allowed to send from <example.net> per its SPF Record', 'blocked'],
    ['5.1.8', '553 5.1.8 Domain of sender address nobody@example.net does not exist', 'blocked'],
    ['5.0.0', '550 Denied by policy', 'blocked'],
    ['5.7.26', 'Unauthenticated email is not accepted due to DMARC policy', 'blocked'],
    ['5.3.4', '552 5.3.4 Message size exceeds fixed limit', 'blocked'],
    ['5.2.2', null, 'soft'],
    ['4.7.0', '421 4.7.0 Temporarily deferred due to user complaints', 'soft'],
    ['5.4.7', 'Message expired: retry timeout exceeded', 'soft'],
    [null, 'all hosts have been failing for a long time', 'soft'],
    ['5.0.0', '554 5.0.0 Service unavailable', 'soft'],
    ['5.7.27', '550 Host does not accept mail', 'hard'],
    [null, null, 'unknown'],
  ];
  it.each(cases)('%s / %s → %s', (status, diagnostic, kind) => {
    expect(classifyStatus(status, diagnostic).kind).toBe(kind);
  });
});

describe('classifyFiles', () => {
  it('classifies each file and reports unreadable ones', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'postgate-bounce-'));
    try {
      const file = path.join(dir, 'one.eml');
      await writeFile(file, dsn({ status: '5.2.2', diag: '552 5.2.2 Mailbox full' }));
      const missing = path.join(dir, 'missing.eml');
      expect(await classifyFiles([file, missing])).toEqual([
        { file, kind: 'soft', status: '5.2.2', recipient: 'jane.doe@example.com', reason: 'mailboxfull' },
        { file: missing, kind: 'unknown', status: null, recipient: null, reason: 'read_error' },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
