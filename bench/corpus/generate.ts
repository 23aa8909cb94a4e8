// Generates the `postfix-generated/` and `exim-generated/` parts of test/fixtures/bounce-corpus:
// genuine delivery status notifications written by Debian's Postfix and Exim for replies that a
// loopback SMTP server gives them. Not run by CI.
//
//   apt-get install -y postfix            # exim4 conflicts with postfix as a package, so:
//   apt-get install -y libidn12 && apt-get download exim4-base exim4-daemon-light exim4-config &&
//     for f in exim4*.deb; do dpkg-deb -x $f /tmp/exim; done     (exim re-executes /usr/sbin/exim4, so
//     /tmp/exim/usr/sbin is bind-mounted on /usr/sbin inside the private mount namespace)
//   useradd -r -M Debian-exim
//   npx tsx bench/corpus/generate.ts [postfix|exim ...]      (as root; takes ~3 minutes)
//
// How it works, all on 127.0.0.1 and inside a private mount namespace (unshare -m) whose
// /etc/resolv.conf points at a tiny DNS server started here (NXDOMAIN, null MX, SERVFAIL, ...):
//   - "remote" SMTP servers answer each RCPT (or the end of DATA) with the reply of the scenario
//     named by the recipient's local part (SCENARIOS below), plus a few servers that refuse at the
//     greeting, or advertise a tiny SIZE;
//   - a private Postfix instance (own config, queue and data dirs) and an Exim daemon (own config
//     and spool) relay one message per scenario from bounce+<scenario>@sender.test to them;
//   - sender.test routes back to a capture SMTP server that writes every DSN the MTA sends to
//     OUT/<mta>-generated/<scenario>[-delayed].eml. Queue lifetimes are shortened (60-90 s) and
//     delay warnings are on, so 4xx scenarios give a delay notice and then an expiry bounce.
// Labels (kind/reason) in SCENARIOS are what a person gives the resulting report; they were
// checked by reading every generated file and copied into test/fixtures/bounce-corpus/labels.tsv.
import { spawnSync, execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';

// ── recipient scenarios: the reply the loopback "remote" server gives, and the label a person gives
// the report the MTA writes about it (kind + reason, see test/fixtures/bounce-corpus/README.md) ──

export type Kind = 'hard' | 'soft' | 'blocked' | 'complaint' | 'autoreply' | 'unknown';

export interface Scenario {
  /** recipient local part at remote.test (or the whole address when it contains '@') */
  name: string;
  /** reply lines; `{rcpt}` is the recipient, `{sender}` the envelope sender, `{ip}` the client IP */
  reply?: string[];
  /** when the reply is given: RCPT (default) or after the message data */
  stage?: 'rcpt' | 'data';
  /** label of the final report (Action: failed) */
  kind: Kind;
  reason: string;
  /** label of the delay warning the MTA sends first (4xx replies only) */
  delayed?: boolean;
  /** ask for a success DSN too (NOTIFY=SUCCESS,FAILURE,DELAY) */
  notifySuccess?: boolean;
}

const G = (code: string, ext: string, lines: string[]): string[] =>
  lines.map((l, i) => `${code}${i < lines.length - 1 ? '-' : ' '}${ext} ${l}`);

export const SCENARIOS: Scenario[] = [
  // ── hard: the address (or its domain) is gone ──────────────────────────────────────────────────
  { name: 'pf-virtual-unknown', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table'], kind: 'hard', reason: 'userunknown' },
  { name: 'pf-local-unknown', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in local recipient table'], kind: 'hard', reason: 'userunknown' },
  { name: 'pf-relay-unknown', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in relay recipient table'], kind: 'hard', reason: 'userunknown' },
  { name: 'gmail-nosuchuser', reply: G('550', '5.1.1', ['The email account that you tried to reach does not exist. Please try', 'double-checking the recipient\'s email address for typos or', 'unnecessary spaces. For more information, go to', ' https://support.google.com/mail/?p=NoSuchUser d75a77b69052e-4a1b2c3d4e5si1234567qtb.12 - gsmtp']), kind: 'hard', reason: 'userunknown' },
  { name: 'hotmail-unavailable', reply: ['550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DB5PEPF00014B8A.eurprd02.prod.outlook.com 2024-03-11T09:12:44.512Z 08DC41A2B3C4D5E6]'], kind: 'hard', reason: 'userunknown' },
  { name: 'o365-recipientnotfound', reply: ['550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {rcpt} not found by SMTP address lookup'], kind: 'hard', reason: 'userunknown' },
  { name: 'yahoo-noaccount', reply: ['554 delivery error: dd This user doesn\'t have a yahoo.com account ({rcpt}) [0] - mta4012.mail.bf1.yahoo.com'], stage: 'data', kind: 'hard', reason: 'userunknown' },
  { name: 'aol-mailbox-not-found', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: MAILBOX NOT FOUND'], kind: 'hard', reason: 'userunknown' },
  { name: 'cpanel-nosuchuser', reply: ['550 No Such User Here"'], kind: 'hard', reason: 'userunknown' },
  { name: 'qmail-chkuser', reply: ['550 5.1.1 sorry, no mailbox here by that name (#5.1.1 - chkuser)'], kind: 'hard', reason: 'userunknown' },
  { name: 'sendmail-userunknown', reply: ['550 5.1.1 <{rcpt}>... User unknown'], kind: 'hard', reason: 'userunknown' },
  { name: 'gmx-unavailable', reply: ['550 Requested action not taken: mailbox unavailable'], kind: 'hard', reason: 'userunknown' },
  { name: 'mailru-nouser', reply: ['550 Message was not accepted -- invalid mailbox.  Local mailbox {rcpt} is unavailable: user not found'], kind: 'hard', reason: 'userunknown' },
  { name: 'zoho-notexist', reply: ['550 5.1.1 User does not exist - <{rcpt}>'], kind: 'hard', reason: 'userunknown' },
  { name: 'comcast-notexist', reply: ['550 5.1.1 <{rcpt}> recipient does not exist here.'], kind: 'hard', reason: 'userunknown' },
  { name: 'icloud-notexist', reply: ['550 5.1.1 <{rcpt}>: user does not exist'], kind: 'hard', reason: 'userunknown' },
  { name: 'mimecast-invalid', reply: ['550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [rC3b-Ab1Mg2xYz9fPq7L1w.uk12]'], kind: 'hard', reason: 'userunknown' },
  { name: 'proofpoint-unknown', reply: ['550 5.1.1 User Unknown'], kind: 'hard', reason: 'userunknown' },
  { name: 'barracuda-nosuchuser', reply: ['550 No such user ({rcpt})'], kind: 'hard', reason: 'userunknown' },
  { name: 'courier-unknown', reply: ['550 User unknown.'], kind: 'hard', reason: 'userunknown' },
  { name: 'exchange-unknown-2007', reply: ['550 5.1.1 User unknown'], stage: 'data', kind: 'hard', reason: 'userunknown' },
  { name: 'dovecot-lmtp-unknown', reply: ['550 5.1.1 <{rcpt}> User doesn\'t exist: {rcpt}'], kind: 'hard', reason: 'userunknown' },
  { name: 'badsyntax-mailbox', reply: ['553 5.1.3 <{rcpt}>: Recipient address rejected: bad address syntax'], kind: 'hard', reason: 'userunknown' },
  { name: 'mdaemon-unknown', reply: ['550 5.1.1 Unknown user: {rcpt}'], kind: 'hard', reason: 'userunknown' },
  { name: 'uol-unknown', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: Unknown recipient'], kind: 'hard', reason: 'userunknown' },
  { name: 'protonmail-noaddr', reply: ['550 5.1.1 Address does not exist'], kind: 'hard', reason: 'userunknown' },
  { name: 'zimbra-unknown', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: {rcpt}'], kind: 'hard', reason: 'userunknown' },
  { name: 'yandex-nouser', reply: ['550 5.1.1 <{rcpt}>: Recipient address rejected: No such user'], kind: 'hard', reason: 'userunknown' },
  { name: 'domain-not-found-rcpt', reply: ['550 5.1.2 <{rcpt}>: Recipient address rejected: Domain not found'], kind: 'hard', reason: 'hostunknown' },
  { name: 'user-moved', reply: ['551 5.1.6 User not local; please try <new-address@elsewhere.example>'], kind: 'hard', reason: 'hasmoved' },
  { name: 'user-moved-2', reply: ['550 5.1.6 Recipient address rejected: user has moved to another domain'], kind: 'hard', reason: 'hasmoved' },
  { name: 'rfc7504-notaccept', reply: ['556 5.1.10 Recipient address has null MX'], kind: 'hard', reason: 'notaccept' },

  // ── soft: the address exists; retry or wait ────────────────────────────────────────────────────
  { name: 'gmail-disabled', reply: G('550', '5.2.1', ['The email account that you tried to reach is disabled. Learn more at', ' https://support.google.com/mail/?p=DisabledUser 6a1803df08f44-6f2c1a2b3c4si1234567.199 - gsmtp']), kind: 'soft', reason: 'suspend' },
  { name: 'yahoo-disabled', reply: ['554 delivery error: dd Sorry your message to {rcpt} cannot be delivered. This mailbox is disabled (554.30). - mta4451.mail.gq1.yahoo.com'], stage: 'data', kind: 'soft', reason: 'suspend' },
  { name: 'mailbox-inactive', reply: ['550 5.2.1 <{rcpt}>: Mailbox disabled, not accepting messages'], kind: 'soft', reason: 'suspend' },
  { name: 'mailbox-full-552', reply: ['552 5.2.2 <{rcpt}>: Recipient address rejected: Mailbox full'], kind: 'soft', reason: 'mailboxfull' },
  { name: 'outlook-full', reply: ['552 5.2.2 Mailbox full'], stage: 'data', kind: 'soft', reason: 'mailboxfull' },
  { name: 'dovecot-quota', reply: ['552 5.2.2 <{rcpt}> Quota exceeded (mailbox for user is full)'], stage: 'data', kind: 'soft', reason: 'mailboxfull' },
  { name: 'mailru-overquota', reply: ['550 Message was not accepted -- invalid mailbox.  Local mailbox {rcpt} is unavailable: account is over quota'], kind: 'soft', reason: 'mailboxfull' },
  { name: 'gmail-overquota', reply: G('452', '4.2.2', ['The recipient\'s inbox is out of storage space. Please direct the', 'recipient to', ' https://support.google.com/mail/?p=OverQuotaTemp 5b1f17b1804b1-4411a2b3c4dsi1234567.301 - gsmtp']), kind: 'soft', reason: 'mailboxfull', delayed: true },
  { name: 'exceeds-mailbox-limit', reply: ['552 5.2.3 Message exceeds maximum size allowed for this mailbox'], stage: 'data', kind: 'soft', reason: 'exceedlimit' },
  { name: 'greylist', reply: ['450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/remote.test.html'], kind: 'soft', reason: 'expired', delayed: true },
  { name: 'temp-451', reply: ['451 4.3.0 <{rcpt}>: Temporary lookup failure'], kind: 'soft', reason: 'expired', delayed: true },
  { name: 'try-later-421', reply: ['421 4.7.0 Try again later, closing connection.'], kind: 'soft', reason: 'expired', delayed: true },
  { name: 'too-many-conn', reply: ['421 4.7.0 mx.remote.test Error: too many connections from {ip}'], kind: 'soft', reason: 'toomanyconn', delayed: true },
  { name: 'gmail-ratelimit', reply: G('450', '4.2.1', ['The user you are trying to contact is receiving mail at a rate that', 'prevents additional messages from being delivered. Please resend your', 'message at a later time. If the user is able to receive mail at that', 'time, your message will be delivered. For more information, go to', ' https://support.google.com/mail/?p=ReceivingRate 2adb3069b0e04-52b1a2b3c4dsi123.45 - gsmtp']), kind: 'soft', reason: 'speeding', delayed: true },
  { name: 'insufficient-storage', reply: ['452 4.3.1 Insufficient system storage'], kind: 'soft', reason: 'systemfull', delayed: true },
  { name: 'mail-system-full', reply: ['552 5.3.1 Mail system full'], stage: 'data', kind: 'soft', reason: 'systemfull' },
  { name: 'system-config-error', reply: ['554 5.3.5 Local configuration error'], stage: 'data', kind: 'soft', reason: 'systemerror' },
  { name: 'local-delivery-failed', reply: ['550 5.3.0 <{rcpt}>: local delivery failed: mailbox backend unavailable'], stage: 'data', kind: 'soft', reason: 'systemerror' },
  { name: 'hop-count', reply: ['554 5.4.6 Too many hops'], stage: 'data', kind: 'soft', reason: 'networkerror' },
  { name: 'yahoo-ts04', reply: ['421 4.7.0 [TSS04] Messages from {ip} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes'], kind: 'soft', reason: 'expired', delayed: true },
  { name: 'o365-throttled', reply: ['451 4.7.500 Server busy. Please try again later from [{ip}]. (S77714) [AM0PR02MB1234.eurprd02.prod.outlook.com]'], kind: 'soft', reason: 'expired', delayed: true },

  // ── blocked: policy, reputation, content, authentication — never the address's fault ───────────
  { name: 'spamhaus-blocked', reply: ['554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}'], kind: 'blocked', reason: 'blocked' },
  { name: 'outlook-s3150', reply: ['550 5.7.1 Unfortunately, messages from [{ip}] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [VI1EUR05FT012.eop-eur05.prod.protection.outlook.com 2024-03-11T09:12:44.512Z 08DC41A2B3C4D5E6]'], kind: 'blocked', reason: 'blocked' },
  { name: 'outlook-banned-ip', reply: ['550 5.7.606 Access denied, banned sending IP [{ip}]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to  http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430) [AM4PEPF00027A5C.eurprd04.prod.outlook.com 2024-03-11T09:12:44.512Z 08DC41A2B3C4D5E6]'], kind: 'blocked', reason: 'blocked' },
  { name: 'yahoo-bl21', reply: ['553 5.7.1 [BL21] Connections will not be accepted from {ip}, because the ip is in Spamhaus\'s list; see http://postmaster.yahoo.com/550-bl23.html'], kind: 'blocked', reason: 'blocked' },
  { name: 'comcast-dnsbl', reply: ['554 resimta-po-12v.sys.comcast.net resimta-po-12v.sys.comcast.net {ip} found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001'], kind: 'blocked', reason: 'blocked' },
  { name: 'spamcop-listed', reply: ['550 5.7.1 Mail from {ip} refused, see http://www.spamcop.net/bl.shtml?{ip}'], kind: 'blocked', reason: 'blocked' },
  { name: 'barracuda-blocked', reply: ['554 Service unavailable; Client host [{ip}] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip={ip}'], kind: 'blocked', reason: 'blocked' },
  { name: 'aol-rtr-bb', reply: ['554 RTR:BB  https://postmaster.aol.com/error-codes#554rtrbb'], kind: 'blocked', reason: 'blocked' },
  { name: 'mailru-spam', reply: ['550 spam message rejected. Please visit http://help.mail.ru/notspam-support/id?c=Kxq1ZGhNi2ZG2r1HmM1WZLRfZAAAAAAAAAAAAAAAAAAAAAAAAA or  report details to abuse@corp.mail.ru. Error code: 6D1C6F5A8BD1E52C. ID: 0000000000000000000000000000000000000000'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'yandex-spam', reply: ['554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1710148364-aBcDeF12Gh34'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'gmail-spam', reply: G('550', '5.7.1', ['[{ip}      12] Our system has detected that this message is', 'likely unsolicited mail. To reduce the amount of spam sent to Gmail,', 'this message has been blocked. For more information, go to', ' https://support.google.com/mail/?p=UnsolicitedMessageError a640c23a62f3a-a4a1b2c3d4esi123.87 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'exchange-contentfilter', reply: ['550 5.7.1 Message rejected as spam by Content Filtering.'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'amavis-spam', reply: ['554 5.7.0 Reject, id=12345-07 - spam'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'rspamd-spam', reply: ['554 5.7.1 Spam message rejected'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'exim-spamscore', reply: ['550 High probability of spam'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'spamassassin-reject', reply: ['550 5.7.1 Blocked by SpamAssassin'], stage: 'data', kind: 'blocked', reason: 'spamdetected' },
  { name: 'amavis-virus', reply: ['554 5.7.0 Reject, id=23456-01 - INFECTED: Eicar-Signature'], stage: 'data', kind: 'blocked', reason: 'virusdetected' },
  { name: 'clamav-virus', reply: ['550 5.7.1 Virus Found: Win.Test.EICAR_HDB-1'], stage: 'data', kind: 'blocked', reason: 'virusdetected' },
  { name: 'exim-malware', reply: ['550 This message contains a virus (Eicar-Test-Signature) and has been rejected'], stage: 'data', kind: 'blocked', reason: 'virusdetected' },
  { name: 'gmail-unauthenticated', reply: G('550', '5.7.26', ['This mail has been blocked because the sender is unauthenticated.', 'Gmail requires all senders to authenticate with either SPF or DKIM.', '', ' Authentication results:', ' DKIM = did not pass', ' SPF [sender.test] with ip: [{ip}] = did not pass', '', ' For instructions on setting up authentication, go to', ' https://support.google.com/mail/answer/81126#authentication 5b1f17b1804b1-41a1b2c3d4esi123.2 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'authfailure' },
  { name: 'gmail-dmarc', reply: G('550', '5.7.26', ['Unauthenticated email from sender.test is not accepted due to domain\'s', 'DMARC policy. Please contact the administrator of sender.test domain if', 'this was a legitimate mail. To learn about the DMARC initiative, go to', ' https://support.google.com/mail/?p=DmarcRejection 38308e7fff4ca-2d1a2b3c4d5si123.5 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'authfailure' },
  { name: 'outlook-dmarc', reply: ['550 5.7.509 Access denied, sending domain sender.test does not pass DMARC verification and has a DMARC policy of reject. [AM4PEPF00027A5C.eurprd04.prod.outlook.com 2024-03-11T09:12:44.512Z 08DC41A2B3C4D5E6]'], stage: 'data', kind: 'blocked', reason: 'authfailure' },
  { name: 'policyd-spf-fail', reply: ['550 5.7.23 <{rcpt}>: Recipient address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.open-spf.org/Why;id={sender};ip={ip};r=<UNKNOWN>'], kind: 'blocked', reason: 'authfailure' },
  { name: 'dkim-fail', reply: ['550 5.7.20 Message rejected: No valid DKIM signature found'], stage: 'data', kind: 'blocked', reason: 'authfailure' },
  { name: 'yahoo-policy', reply: ['554 5.7.9 Message not accepted for policy reasons.  See https://help.yahoo.com/kb/postmaster/SLN7253.html'], stage: 'data', kind: 'blocked', reason: 'policyviolation' },
  { name: 'local-policy', reply: ['550 5.7.1 Message rejected due to local policy'], stage: 'data', kind: 'blocked', reason: 'policyviolation' },
  { name: 'o365-access-denied', reply: ['550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT045.eop-EUR03.prod.protection.outlook.com 2024-03-11T09:12:44.512Z 08DC41A2B3C4D5E6]'], kind: 'blocked', reason: 'rejected' },
  { name: 'sender-domain-notfound', reply: ['553 5.1.8 <{sender}>: Sender address rejected: Domain not found'], kind: 'blocked', reason: 'rejected' },
  { name: 'sender-access-denied', reply: ['550 5.7.1 <{sender}>: Sender address rejected: Access denied'], kind: 'blocked', reason: 'rejected' },
  { name: 'sender-verify-failed', reply: ['550 5.1.7 Sender verify failed'], kind: 'blocked', reason: 'rejected' },
  { name: 'relay-denied', reply: ['554 5.7.1 <{rcpt}>: Relay access denied'], kind: 'blocked', reason: 'norelaying' },
  { name: 'exchange-unable-relay', reply: ['550 5.7.54 SMTP; Unable to relay recipient in non-accepted domain'], kind: 'blocked', reason: 'norelaying' },
  { name: 'qmail-rcpthosts', reply: ['553 sorry, that domain isn\'t in my list of allowed rcpthosts (#5.7.1)'], kind: 'blocked', reason: 'norelaying' },
  { name: 'gmail-ptr', reply: G('550', '5.7.25', ['[{ip}] The IP address sending this message does not have a', 'PTR record setup, or the corresponding forward DNS entry does not', 'point to the sending IP. As a policy, Gmail does not accept messages', 'from IPs with missing PTR records. For more information, go to', ' https://support.google.com/mail/answer/81126#ip-practices 41be03b00d2f7-5dc1a2b3c4dsi123.9 - gsmtp']), kind: 'blocked', reason: 'requireptr' },
  { name: 'no-reverse-hostname', reply: ['550 5.7.1 Client host rejected: cannot find your reverse hostname, [{ip}]'], kind: 'blocked', reason: 'requireptr' },
  { name: 'gmail-reputation', reply: G('550', '5.7.1', ['Our system has detected that this message is likely suspicious due to', 'the very low reputation of the sending domain. To best protect our', 'users from spam, the message has been blocked. Please visit', ' https://support.google.com/mail/answer/188131 for more information. 2adb3069b0e04-51a1b2c3d4dsi123.3 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'badreputation' },
  { name: 'poor-reputation', reply: ['554 5.7.1 Rejected due to poor sender reputation'], kind: 'blocked', reason: 'badreputation' },
  { name: 'gmail-rfc5322', reply: G('550', '5.7.1', ['[{ip}] This message is not RFC 5322 compliant, the message has', 'multiple From headers. To reduce the amount of spam sent to Gmail, this', 'message has been blocked. For more information, go to', ' https://support.google.com/mail/?p=RfcMessageNonCompliant a1si12345.67 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'notcompliantrfc' },
  { name: 'msgsize-fixed-limit', reply: ['552 5.3.4 Message size exceeds fixed limit'], stage: 'data', kind: 'blocked', reason: 'mesgtoobig' },
  { name: 'gmail-toobig', reply: G('552', '5.3.4', ['Your message exceeded Google\'s message size limits. Please visit', ' https://support.google.com/mail/?p=MaxSizeError to view our size', 'guidelines. 3f1490d57ef6-dc1a2b3c4d5si123.88 - gsmtp']), stage: 'data', kind: 'blocked', reason: 'mesgtoobig' },
  { name: 'invalid-header', reply: ['554 5.6.0 Message contains invalid header'], stage: 'data', kind: 'blocked', reason: 'contenterror' },
  { name: 'bad-attachment', reply: ['552 5.7.0 This message was blocked because its content presents a potential security issue. Please visit  https://support.google.com/mail/?p=BlockedMessage to review our message content and attachment content guidelines.'], stage: 'data', kind: 'blocked', reason: 'securityerror' },
  { name: 'starttls-required', reply: ['530 5.7.0 Must issue a STARTTLS command first'], kind: 'blocked', reason: 'securityerror' },
  { name: 'auth-required', reply: ['530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM'], kind: 'blocked', reason: 'securityerror' },
  { name: 'recipient-refuses', reply: ['550 5.7.1 <{rcpt}>: Recipient address rejected: this recipient does not accept mail from your address'], kind: 'blocked', reason: 'filtered' },
  { name: 'recipient-filter', reply: ['550 5.7.1 Delivery not authorized, message refused by recipient\'s filter'], stage: 'data', kind: 'blocked', reason: 'filtered' },

  // ── not a failure ───────────────────────────────────────────────────────────────────────────────
  { name: 'accepted-with-receipt', kind: 'unknown', reason: 'delivered', notifySuccess: true },
];

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(here, '../../test/fixtures/bounce-corpus');
const WORK = process.env.CORPUS_WORK ?? '/tmp/pgc';
const EXIM_ROOT = process.env.EXIM_ROOT ?? '/tmp/exim';
const IP = '127.0.0.1';
const P = { main: 2625, greetBlock: 2626, greetBusy: 2627, small: 2628, capture: 2629, postfix: 2630, exim: 2631 };

// ── domain-level scenarios (DNS answers and special servers) ─────────────────────────────────────
interface DomainScenario { domain: string; name: string; kind: Scenario['kind']; reason: string; delayed?: boolean; big?: boolean }
const DOMAINS: DomainScenario[] = [
  { domain: 'no-such-domain.test', name: 'dns-nxdomain', kind: 'hard', reason: 'hostunknown' },
  { domain: 'nullmx.test', name: 'dns-nullmx', kind: 'hard', reason: 'notaccept' },
  { domain: 'mx-host-missing.test', name: 'dns-mx-host-missing', kind: 'hard', reason: 'hostunknown' },
  { domain: 'servfail.test', name: 'dns-servfail', kind: 'soft', reason: 'expired', delayed: true },
  { domain: 'loops.test', name: 'mx-loops-back', kind: 'soft', reason: 'networkerror' },
  { domain: 'greet-block.test', name: 'greeting-554', kind: 'blocked', reason: 'blocked' },
  { domain: 'greet-busy.test', name: 'greeting-421', kind: 'soft', reason: 'toomanyconn', delayed: true },
  { domain: 'refused.test', name: 'connection-refused', kind: 'soft', reason: 'expired', delayed: true },
  { domain: 'small.test', name: 'size-limit-ehlo', kind: 'blocked', reason: 'mesgtoobig', big: true },
];
// transport for each routed domain (the others are looked up in the fake DNS)
const ROUTES: Record<string, number> = {
  'remote.test': P.main, 'greet-block.test': P.greetBlock, 'greet-busy.test': P.greetBusy, 'small.test': P.small,
  'refused.test': 1, 'sender.test': P.capture,
};

// ── minimal DNS server ───────────────────────────────────────────────────────────────────────────
function startDns(): dgram.Socket {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (q, rinfo) => {
    let off = 12; const labels: string[] = [];
    while (q[off] !== 0 && off < q.length) { const n = q[off]; labels.push(q.subarray(off + 1, off + 1 + n).toString()); off += n + 1; }
    off += 1; const qtype = q.readUInt16BE(off); const qEnd = off + 4; const name = labels.join('.').toLowerCase();
    let rcode = 3; const answers: Buffer[] = [];
    const rr = (type: number, rdata: Buffer) => { const h = Buffer.alloc(12); h.writeUInt16BE(0xc00c, 0); h.writeUInt16BE(type, 2); h.writeUInt16BE(1, 4); h.writeUInt32BE(60, 6); h.writeUInt16BE(rdata.length, 10); return Buffer.concat([h, rdata]); };
    const dname = (n: string) => Buffer.concat([...n.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
    const mx = (pref: number, host: string) => Buffer.concat([Buffer.from([pref >> 8, pref & 255]), dname(host)]);
    if (name === 'servfail.test') rcode = 2;
    else if (name === 'nullmx.test') { rcode = 0; if (qtype === 15) answers.push(rr(15, mx(0, '.'))); }
    else if (name === 'mx-host-missing.test') { rcode = 0; if (qtype === 15) answers.push(rr(15, mx(10, 'mail.mx-host-missing.test'))); }
    else if (name === 'loops.test') { rcode = 0; if (qtype === 15) answers.push(rr(15, mx(10, 'mx.loops.test'))); }
    else if (name === 'mx.loops.test') { rcode = 0; if (qtype === 1) answers.push(rr(1, Buffer.from([127, 0, 0, 1]))); }
    else if (name in ROUTES || name === 'localhost' || name.endsWith('.sender.test') || name === 'mta.sender.test') rcode = 0;
    const h = Buffer.alloc(12); q.copy(h, 0, 0, 2); h.writeUInt16BE(0x8180 | rcode, 2); h.writeUInt16BE(1, 4); h.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([h, q.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  sock.bind(53, IP);
  return sock;
}

// ── minimal SMTP servers ─────────────────────────────────────────────────────────────────────────
interface ServerOpts { greeting?: string[]; size?: number; capture?: (from: string, rcpts: string[], data: string) => void }
const byName = new Map(SCENARIOS.map((s) => [s.name, s]));
const fill = (lines: string[], rcpt: string, sender: string) => lines.map((l) => l.replaceAll('{rcpt}', rcpt).replaceAll('{sender}', sender).replaceAll('{ip}', IP)).join('\r\n') + '\r\n';

function startSmtp(port: number, opts: ServerOpts): net.Server {
  const srv = net.createServer((sock) => {
    let buf = ''; let inData = false; let data = ''; let from = ''; let rcpts: string[] = [];
    const say = (s: string) => sock.write(s.endsWith('\r\n') ? s : s + '\r\n');
    if (opts.greeting) { say(fill(opts.greeting, '', '')); if (opts.greeting[0].startsWith('4') || opts.greeting[0].startsWith('5')) { /* wait for QUIT */ } } else say(`220 mx.remote.test ESMTP`);
    sock.on('error', () => undefined);
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          const startEnd = data === '' && buf.startsWith('.\r\n') ? 0 : -1;
          if (end < 0 && startEnd < 0) { return; }
          const cut = startEnd === 0 ? 0 : end + 2;
          data += buf.slice(0, cut); buf = buf.slice(cut + 3); inData = false;
          const text = data.replace(/\r\n\.\./g, '\r\n.');
          if (opts.capture) { opts.capture(from, rcpts, text); say('250 2.0.0 Ok: queued'); }
          else {
            const bad = rcpts.map((r) => byName.get(r.split('@')[0])).find((s) => s?.stage === 'data' && s.reply);
            say(bad ? fill(bad.reply!, rcpts[0], from) : '250 2.0.0 Ok: queued as 4XyZ12abc');
          }
          data = ''; rcpts = []; continue;
        }
        const i = buf.indexOf('\r\n'); if (i < 0) return;
        const line = buf.slice(0, i); buf = buf.slice(i + 2);
        const cmd = line.slice(0, 4).toUpperCase();
        if (opts.greeting && /^[45]/.test(opts.greeting[0]) && cmd !== 'QUIT') { say('503 5.5.1 Error: no service'); continue; }
        if (cmd === 'EHLO') say(['250-mx.remote.test', '250-PIPELINING', `250-SIZE ${opts.size ?? 52428800}`, '250-8BITMIME', '250-ENHANCEDSTATUSCODES', '250 SMTPUTF8'].join('\r\n'));
        else if (cmd === 'HELO') say('250 mx.remote.test');
        else if (cmd === 'MAIL') { from = (/<([^>]*)>/.exec(line)?.[1]) ?? ''; rcpts = []; say('250 2.1.0 Ok'); }
        else if (cmd === 'RCPT') {
          const rcpt = (/<([^>]*)>/.exec(line)?.[1]) ?? '';
          const s = opts.capture ? undefined : byName.get(rcpt.split('@')[0]);
          if (s?.reply && (s.stage ?? 'rcpt') === 'rcpt') { say(fill(s.reply, rcpt, from)); if (s.reply[s.reply.length - 1].startsWith('421')) sock.end(); }
          else { rcpts.push(rcpt); say('250 2.1.5 Ok'); }
        }
        else if (cmd === 'DATA') { if (!rcpts.length) say('554 5.5.1 Error: no valid recipients'); else { inData = true; data = ''; say('354 End data with <CR><LF>.<CR><LF>'); } }
        else if (cmd === 'RSET') { rcpts = []; say('250 2.0.0 Ok'); }
        else if (cmd === 'NOOP') say('250 2.0.0 Ok');
        else if (cmd === 'QUIT') { say('221 2.0.0 Bye'); sock.end(); }
        else say('502 5.5.2 Error: command not recognized');
      }
    });
  });
  srv.listen(port, IP);
  return srv;
}

// ── capture ──────────────────────────────────────────────────────────────────────────────────────
let captureDir = '';
const captured: string[] = [];
function capture(_from: string, rcpts: string[], data: string): void {
  for (const r of rcpts) {
    const m = /^bounce\+([^@]+)@/i.exec(r);
    if (!m) { console.log('ignored a message to', r); continue; }
    const name = m[1];
    const delayed = /^Action:\s*delayed/im.test(data) || /^Subject:.*(delayed mail|warning: message)/im.test(data);
    const relayed = /^Action:\s*(relayed|delivered)/im.test(data);
    let file = `${name}${delayed ? '-delayed' : relayed ? '-success' : ''}.eml`;
    if (delayed && fs.existsSync(path.join(captureDir, file))) continue; // keep the first warning only
    for (let n = 2; fs.existsSync(path.join(captureDir, file)); n++) file = `${name}${delayed ? '-delayed' : ''}-${n}.eml`;
    fs.writeFileSync(path.join(captureDir, file), data.replace(/\r\n/g, '\n'));
    captured.push(file);
    console.log('captured', file);
  }
}

// ── MTAs ─────────────────────────────────────────────────────────────────────────────────────────
const ns = (cmd: string) => spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind ${WORK}/resolv.conf /etc/resolv.conf && ${cmd}`], { stdio: 'inherit' });

function startPostfix(): () => void {
  const dir = `${WORK}/postfix`;
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ['etc', 'spool', 'data']) fs.mkdirSync(`${dir}/${d}`, { recursive: true });
  const transport = Object.entries(ROUTES).map(([d, p]) => `${d} smtp:[${IP}]:${p}`).join('\n') + '\n';
  fs.writeFileSync(`${dir}/etc/transport`, transport);
  fs.writeFileSync(`${dir}/etc/main.cf`, `compatibility_level = 3.6
meta_directory = /etc/postfix
queue_directory = ${dir}/spool
data_directory = ${dir}/data
myhostname = mta.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
inet_interfaces = ${IP}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
transport_maps = texthash:${dir}/etc/transport
alias_maps =
alias_database =
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_skip_5xx_greeting = no
delay_warning_time = 20s
maximal_queue_lifetime = 75s
bounce_queue_lifetime = 75s
queue_run_delay = 8s
minimal_backoff_time = 8s
maximal_backoff_time = 15s
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
smtpd_banner = $myhostname ESMTP Postfix (Debian/GNU)
`);
  const master = fs.readFileSync('/etc/postfix/master.cf', 'utf8')
    .replace(/^smtp(\s+)inet(.*)$/m, `${IP}:${P.postfix}$1inet$2`)
    .replace(/^(\S+\s+(unix|inet|fifo|pass)\s+\S+\s+\S+\s+)y(\s)/gm, '$1n$3')
    ;
  fs.writeFileSync(`${dir}/etc/master.cf`, master);
  execFileSync('postconf', ['-e', `alternate_config_directories = ${dir}/etc`]);
  execFileSync('chown', ['postfix', `${dir}/data`]);
  spawnSync('postfix', ['-c', `${dir}/etc`, 'check'], { stdio: 'inherit' });
  spawnSync('postfix', ['-c', `${dir}/etc`, 'set-permissions'], { stdio: 'inherit' });
  ns(`postfix -c ${dir}/etc start`);
  return () => { spawnSync('postfix', ['-c', `${dir}/etc`, 'stop'], { stdio: 'inherit' }); };
}

function startExim(): () => void {
  const dir = `${WORK}/exim`;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(`${dir}/log`, { recursive: true });
  fs.mkdirSync(`${dir}/spool`, { recursive: true });
  execFileSync('chown', ['-R', 'Debian-exim', dir]);
  fs.writeFileSync(`${dir}/ports`, Object.entries(ROUTES).map(([d, p]) => `${d}: ${p}`).join('\n') + '\n');
  fs.writeFileSync(`${dir}/exim.conf`, `primary_hostname = mta.sender.test
qualify_domain = sender.test
spool_directory = ${dir}/spool
log_file_path = ${dir}/log/%slog
daemon_smtp_ports = ${P.exim}
local_interfaces = ${IP}
disable_ipv6 = true
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = acl_check_rcpt
delay_warning = 20s:1h
ignore_bounce_errors_after = 0s
timeout_frozen_after = 2m
never_users =
trusted_users = root
dsn_advertise_hosts = *

begin acl
acl_check_rcpt:
  accept hosts = 127.0.0.0/8

begin routers
routed:
  driver = manualroute
  domains = ${Object.keys(ROUTES).join(' : ')}
  route_list = * ${IP} byname
  self = send
  transport = remote_smtp
dnslookup:
  driver = dnslookup
  transport = dns_smtp
  no_more

begin transports
remote_smtp:
  driver = smtp
  port = \${lookup{$domain}lsearch{${dir}/ports}}
  allow_localhost
  hosts_avoid_tls = *
  connect_timeout = 5s
dns_smtp:
  driver = smtp
  hosts_avoid_tls = *
  connect_timeout = 5s

begin retry
*   *   F,70s,10s

begin rewrite
`);
  const env = { ...process.env, LD_LIBRARY_PATH: `${EXIM_ROOT}/usr/lib/x86_64-linux-gnu` };
  spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind ${WORK}/resolv.conf /etc/resolv.conf && mount --bind ${EXIM_ROOT}/usr/sbin /usr/sbin && /usr/sbin/exim4 -C ${dir}/exim.conf -bd -q10s`], { stdio: 'inherit', env });
  return () => {
    const pid = fs.existsSync(`${dir}/spool/exim-daemon.pid`) ? fs.readFileSync(`${dir}/spool/exim-daemon.pid`, 'utf8').trim() : '';
    if (pid) try { process.kill(Number(pid)); } catch { /* gone */ }
  };
}

// ── sending ──────────────────────────────────────────────────────────────────────────────────────
function body(name: string, big = false): string {
  return `Hello,\n\nThis is the March newsletter (scenario ${name}).\n\nRead it online: https://news.sender.test/2024/03\n\n--\nSender Test Ltd, 1 Example Street\nUnsubscribe: https://news.sender.test/u/abc123\n` +
    (big ? 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(60) + '\n' : '');
}

async function sendAll(port: number, mta: string): Promise<void> {
  const tx = nodemailer.createTransport({ host: IP, port, secure: false, ignoreTLS: true, pool: false });
  const jobs: { name: string; to: string; big?: boolean; notify?: boolean }[] = [
    ...SCENARIOS.map((s) => ({ name: s.name, to: `${s.name}@remote.test`, notify: s.notifySuccess })),
    ...DOMAINS.map((d) => ({ name: d.name, to: `info@${d.domain}`, big: d.big })),
  ];
  for (const j of jobs) {
    await tx.sendMail({
      envelope: { from: `bounce+${j.name}@sender.test`, to: [j.to] },
      from: '"Sender Test News" <news@sender.test>', to: j.to, subject: 'Your March newsletter',
      messageId: `<${j.name}.${mta}.20240311@sender.test>`, text: body(j.name, j.big),
      headers: { 'List-Unsubscribe': '<https://news.sender.test/u/abc123>' },
      ...(j.notify ? { dsn: { notify: ['success', 'failure', 'delay'], ret: 'hdrs' } } : {}),
    });
  }
  // two recipients in one message: one unknown, one mailbox full (a report with two recipients)
  await tx.sendMail({
    envelope: { from: 'bounce+multi-unknown-and-full@sender.test', to: ['pf-virtual-unknown@remote.test', 'mailbox-full-552@remote.test'] },
    from: 'news@sender.test', to: 'pf-virtual-unknown@remote.test, mailbox-full-552@remote.test', subject: 'Your March newsletter',
    messageId: `<multi.${mta}.20240311@sender.test>`, text: body('multi'),
  });
  tx.close();
}

export const EXTRA_LABELS: Record<string, { kind: string; reason: string }> = {
  'multi-unknown-and-full': { kind: 'hard', reason: 'userunknown' },
};

async function main(): Promise<void> {
  const which = process.argv.slice(2).length ? process.argv.slice(2) : ['postfix', 'exim'];
  fs.mkdirSync(WORK, { recursive: true });
  fs.writeFileSync(`${WORK}/resolv.conf`, `nameserver ${IP}\noptions timeout:1 attempts:1\n`);
  const dns = startDns();
  const servers = [startSmtp(P.main, {}), startSmtp(P.greetBlock, { greeting: ['554 5.7.1 mx.greet-block.test ESMTP not accepting messages from [{ip}]: listed at bl.spamcop.net'] }),
    startSmtp(P.greetBusy, { greeting: ['421 4.7.0 mx.greet-busy.test Too many concurrent SMTP connections; please try again later'] }),
    startSmtp(P.small, { size: 1000 }), startSmtp(P.capture, { capture })];
  for (const mta of which) {
    captureDir = path.join(OUT, `${mta}-generated`);
    fs.mkdirSync(captureDir, { recursive: true });
    const stop = mta === 'postfix' ? startPostfix() : startExim();
    await new Promise((r) => setTimeout(r, 2000));
    await sendAll(mta === 'postfix' ? P.postfix : P.exim, mta);
    const expected = SCENARIOS.filter((s) => s.reply || s.notifySuccess).length + DOMAINS.length + 1;
    const t0 = Date.now();
    // wait for the expiry bounces (queue lifetime 75 s + a queue run)
    while (Date.now() - t0 < 150_000) await new Promise((r) => setTimeout(r, 5000));
    console.log(`${mta}: captured ${captured.length} reports (expected at least ${expected})`);
    stop();
    captured.length = 0;
  }
  for (const s of servers) s.close();
  dns.close();
  process.exit(0);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
