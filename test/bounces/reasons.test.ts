// The reason taxonomy on replies real MTAs and providers write (status, diagnostic → kind, reason).
import { describe, expect, it } from 'vitest';
import { judge, kindOf, smtpCommand } from '../../src/bounces/reasons.js';

type Case = [status: string | null, diagnostic: string, kind: string, reason: string];

const CASES: Case[] = [
  // Gmail
  ['5.1.1', "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces.", 'hard', 'userunknown'],
  ['5.2.2', '552-5.2.2 The email account that you tried to reach is over quota. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm', 'soft', 'mailboxfull'],
  ['5.7.1', '550-5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.', 'blocked', 'spamdetected'],
  ['5.7.26', '550-5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).', 'blocked', 'authfailure'],
  ['4.7.0', '421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address.', 'soft', 'spamdetected'],
  ['5.2.1', '550-5.2.1 The email account that you tried to reach is disabled.', 'soft', 'suspend'],
  ['5.7.1', '550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.', 'blocked', 'policyviolation'],
  // Microsoft
  ['5.5.0', '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)', 'hard', 'userunknown'],
  ['5.7.1', "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).", 'blocked', 'blocked'],
  ['5.7.708', '550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.', 'blocked', 'securityerror'],
  ['5.1.10', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'hard', 'notaccept'],
  ['5.2.2', '554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException', 'soft', 'mailboxfull'],
  ['5.4.1', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)', 'hard', 'userunknown'],
  ['5.7.606', '550 5.7.606 Access denied, banned sending IP [192.0.2.1].', 'blocked', 'blocked'],
  // Yahoo, AOL
  [null, "554 delivery error: dd This user doesn't have a yahoo.com account (jane@yahoo.com) [0] - mta1.mail.bf1.yahoo.com", 'hard', 'userunknown'],
  [null, '554 delivery error: dd Sorry your message to jane@yahoo.com cannot be delivered. This mailbox is disabled (554.30).', 'soft', 'suspend'],
  ['4.7.0', '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', 'soft', 'badreputation'],
  ['5.7.1', "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list", 'blocked', 'blocked'],
  [null, '554 30 Sorry, your message size exceeds 41943040 bytes.', 'blocked', 'mesgtoobig'],
  // Postfix
  ['5.1.1', '550 5.1.1 <jane@example.com>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)', 'hard', 'userunknown'],
  ['5.7.1', '554 5.7.1 <jane@example.com>: Relay access denied (in reply to RCPT TO command)', 'blocked', 'norelaying'],
  ['4.1.1', '450 4.1.1 <jane@example.com>: Recipient address rejected: User unknown in local recipient table', 'soft', 'userunknown'],
  ['5.4.4', 'Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found', 'hard', 'hostunknown'],
  ['5.7.1', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'blocked', 'blocked'],
  ['5.7.1', '550 5.7.1 <jane@example.com>: Recipient address rejected: Message rejected due to: SPF fail - not authorized.', 'blocked', 'authfailure'],
  ['4.4.1', 'connect to mx.example.com[192.0.2.25]:25: Connection timed out', 'soft', 'expired'],
  // Exim
  [null, 'Unrouteable address', 'hard', 'hostunknown'],
  [null, 'retry timeout exceeded', 'soft', 'expired'],
  [null, 'SMTP error from remote mail server after RCPT TO:<jane@example.com>: 550 Administrative prohibition', 'blocked', 'rejected'],
  [null, 'SMTP error from remote mail server after MAIL FROM:<news@example.org> SIZE=1234: 550-Verification failed for <news@example.org> 550 Sender verify failed', 'blocked', 'rejected'],
  [null, 'all relevant MX records point to non-existent hosts', 'hard', 'hostunknown'],
  [null, 'SMTP error from remote mail server after end of data: 550 High probability of spam', 'blocked', 'spamdetected'],
  [null, 'SMTP error from remote mail server after initial connection: 554 mx.example.com ESMTP not accepting messages', 'blocked', 'blocked'],
  // qmail, others
  [null, "511 sorry, no mailbox here by that name (#5.1.1 - chkuser)", 'hard', 'userunknown'],
  [null, "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", 'blocked', 'norelaying'],
  [null, '552 Message size exceeds fixed maximum message size (10485760)', 'blocked', 'mesgtoobig'],
  [null, '554 5.7.1 Your mail could not be delivered because the recipient is only accepting mail from specific email addresses.', 'blocked', 'filtered'],
  [null, '421 Too many concurrent SMTP connections; please try again later.', 'soft', 'toomanyconn'],
  [null, '550 5.7.0 Local Policy Violation', 'blocked', 'policyviolation'],
  [null, '550 No such user here', 'hard', 'userunknown'],
  [null, '550 5.2.1 Mailbox unavailable. Your IP address 192.0.2.1 is blacklisted', 'blocked', 'blocked'],
  [null, 'mail.local: unknown user: jane', 'hard', 'userunknown'],
  ['5.7.9', '554 5.7.9 Message not accepted for policy reasons.', 'blocked', 'policyviolation'],
  ['5.7.1', '550 5.7.1 Email rejected per DMARC policy for example.org', 'blocked', 'authfailure'],
  ['5.3.0', '550 Message rejected because of unacceptable content', 'blocked', 'spamdetected'],
  ['5.0.0', '550 Message was not accepted -- invalid mailbox. Local mailbox jane@example.com is unavailable: account is disabled', 'soft', 'suspend'],
  ['5.4.316', '550 5.4.316 Message expired, connection refused', 'soft', 'expired'],
  ['5.7.27', '550 Host does not accept mail', 'hard', 'notaccept'],
];

describe('judge: real replies → reason and kind', () => {
  it.each(CASES)('%s %s → %s/%s', (status, diagnostic, kind, reason) => {
    expect(judge(status, diagnostic)).toEqual({ kind, reason });
  });
});

describe('rules that hold whatever the text says', () => {
  it('a 4xx is never hard nor blocked', () => {
    expect(judge('4.1.1', '450 4.1.1 user unknown').kind).toBe('soft');
    expect(judge(null, '421 4.7.0 blocked using spamhaus').kind).toBe('soft');
  });
  it('a 5.7.x is never hard, even with user-unknown words', () => {
    expect(judge('5.7.1', '550 5.7.1 <jane@example.com>: Recipient address rejected: User unknown').kind).not.toBe('hard');
  });
  it('policy, reputation, content and authentication words beat a 5.1.1', () => {
    for (const d of ['550 5.1.1 blocked using bl.spamcop.net', '550 5.1.1 rejected as spam', '550 5.1.1 poor reputation', '550 5.1.1 SPF fail']) {
      expect(judge('5.1.1', d).kind).toBe('blocked');
    }
  });
  it('delays, relays and deliveries are not bounces', () => {
    expect(judge('4.4.1', 'timed out', { action: 'delayed' })).toEqual({ kind: 'soft', reason: 'delayed' });
    expect(judge('2.0.0', 'ok', { action: 'relayed' })).toEqual({ kind: 'unknown', reason: 'delivered' });
  });
  it('maps each reason to one kind', () => {
    expect(kindOf('userunknown', '5', '5.1.1')).toBe('hard');
    expect(kindOf('userunknown', '4', '4.1.1')).toBe('soft');
    expect(kindOf('blocked', '5', null)).toBe('blocked');
    expect(kindOf('feedback', null, null)).toBe('feedback');
    expect(kindOf('vacation', null, null)).toBe('autoreply');
  });
  it('reads the SMTP command from the usual wordings', () => {
    expect(smtpCommand('(in reply to RCPT TO command)')).toBe('RCPT');
    expect(smtpCommand('SMTP error from remote mail server after end of data:')).toBe('DATA');
    expect(smtpCommand('SMTP error from remote mail server after initial connection:')).toBe('CONN');
    expect(smtpCommand('>>> MAIL From:<a@b.c>')).toBe('MAIL');
  });
});
