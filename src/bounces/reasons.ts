// The bounce-reason taxonomy and the judgement of one recipient's failure. PURE: no I/O.
//
// Every failed (or delayed) recipient of a report gets a fine-grained reason in the field's de-facto
// vocabulary (Sisimai's reason names), and the reason decides the kind Postgate acts on:
//
//   hard     userunknown, hostunknown, hasmoved, notaccept    (the address is gone; 5xx only)
//   blocked  blocked, rejected, filtered, spamdetected, virusdetected, policyviolation, securityerror,
//            contenterror, authfailure, badreputation, requireptr, notcompliantrfc, mesgtoobig,
//            norelaying                                       (policy, reputation, content: not the address)
//   soft     mailboxfull, exceedlimit, suspend, expired, delayed, systemerror, systemfull,
//            networkerror, toomanyconn, speeding, failedstarttls, syntaxerror, mailererror,
//            suppressed, onhold, undefined                    (temporary, or not known to be permanent)
//   and outside bounces: feedback (RFC 5965), vacation (RFC 3834), delivered.
//
// Rules that hold whatever the text says:
//   - a 4.x.x status or 4xx reply is never hard or blocked: it is soft (the relay is still trying);
//   - a 5.7.x status (security or policy, RFC 3463) is never hard;
//   - policy, reputation, content and authentication words beat "user unknown" texts;
//   - hard needs specific evidence (an address status code or a user/host-unknown text);
//     weak evidence gives soft.
//
// judge(status, diagnostic, context) works on the normalised text of every diagnostic field the
// report carries (Diagnostic-Code, X-Supplementary-Info, X-Postfix-*, Remote-MTA replies, the
// human-readable part), capped at MAX_DIAGNOSTIC characters; every pattern is a bounded alternation,
// linear in the text.

export type BounceKind = 'hard' | 'soft' | 'blocked' | 'complaint' | 'feedback' | 'autoreply' | 'unknown';

export const HARD_REASONS = ['userunknown', 'hostunknown', 'hasmoved', 'notaccept'] as const;
export const BLOCKED_REASONS = [
  'blocked', 'rejected', 'filtered', 'spamdetected', 'virusdetected', 'policyviolation', 'securityerror', 'contenterror',
  'authfailure', 'badreputation', 'requireptr', 'notcompliantrfc', 'mesgtoobig', 'norelaying',
] as const;
export const SOFT_REASONS = [
  'mailboxfull', 'exceedlimit', 'suspend', 'expired', 'delayed', 'systemerror', 'systemfull', 'networkerror', 'toomanyconn',
  'speeding', 'failedstarttls', 'syntaxerror', 'mailererror', 'suppressed', 'onhold', 'undefined',
] as const;
export const OTHER_REASONS = ['feedback', 'vacation', 'delivered', 'not_a_bounce', 'timeout', 'unparseable', 'empty'] as const;

export type BounceReason = typeof HARD_REASONS[number] | typeof BLOCKED_REASONS[number] | typeof SOFT_REASONS[number]
  | typeof OTHER_REASONS[number];

/** The SMTP command a reply answered, when the report says so. */
export type SmtpCommand = 'CONN' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA' | null;

export interface Judgement { kind: BounceKind; reason: BounceReason }
export interface JudgeContext { command?: SmtpCommand; action?: string | null }

export const MAX_DIAGNOSTIC = 8000;

// ───────────────────────────────────── status codes (RFC 3463) ─────────────────────────────────────

/** Subject.detail of an enhanced status code → reason; the class digit is applied separately. */
const CODE_REASON: Record<string, BounceReason> = {
  '1.0': 'userunknown', '1.1': 'userunknown', '1.2': 'hostunknown', '1.3': 'userunknown', '1.4': 'filtered',
  '1.6': 'hasmoved', '1.7': 'rejected', '1.8': 'rejected', '1.9': 'systemerror', '1.10': 'notaccept',
  '2.0': 'filtered', '2.1': 'filtered', '2.2': 'mailboxfull', '2.3': 'exceedlimit', '2.4': 'filtered',
  '3.0': 'systemerror', '3.1': 'systemfull', '3.2': 'notaccept', '3.3': 'systemerror', '3.4': 'mesgtoobig', '3.5': 'systemerror',
  '4.0': 'networkerror', '4.1': 'expired', '4.2': 'networkerror', '4.3': 'systemerror', '4.4': 'hostunknown', '4.5': 'systemfull',
  '4.6': 'networkerror', '4.7': 'expired', '4.8': 'networkerror',
  '5.0': 'syntaxerror', '5.1': 'syntaxerror', '5.2': 'syntaxerror', '5.3': 'toomanyconn', '5.4': 'systemerror', '5.5': 'systemerror',
  '5.6': 'syntaxerror',
  '7.13': 'suspend', '7.16': 'mesgtoobig', '7.17': 'hasmoved', '7.18': 'hasmoved', '7.20': 'authfailure', '7.21': 'authfailure',
  '7.22': 'authfailure', '7.23': 'authfailure', '7.24': 'authfailure', '7.25': 'requireptr', '7.26': 'authfailure',
  '7.27': 'notaccept', '7.28': 'spamdetected', '7.29': 'authfailure', '7.30': 'failedstarttls',
};

function codeReason(code: string | null): BounceReason | null {
  if (!code) return null;
  const sub = code.slice(2);
  if (CODE_REASON[sub]) return CODE_REASON[sub];
  if (sub.startsWith('6.')) return 'contenterror';
  if (sub.startsWith('7.')) return 'securityerror';
  return null;
}

// ─────────────────────────────────────── diagnostic texts ───────────────────────────────────────
// Phrases real MTAs and providers write, grouped by reason. Text is lower-cased, addresses are
// replaced by <addr>, URLs by their host, whitespace collapsed (see normalizeDiagnostic).

const FULL = /mailbox (is |was )?(full|over|at capacity)|full mailbox|mail ?(box|folder|quota) (is )?(full|exceeded|over)|inbox (is )?full|account (is )?(full|over ?quota)|over ?quota|quota (exceeded|full|violation|limit exceeded)|(exceeded|exceeds|exceeding) (the |his |her |its |their |your |user'?s? )?(storage|quota|mailbox|disk)|(disk|storage|mailbox|maildir) (quota|limit|space)|insufficient (system )?(storage|disk space)|out of (disk )?space|not (enough|sufficient) (disk |storage )?space|user is over|too much mail data|space has been used up|too many messages (on the server|in (the |this )?mailbox)|no space left|boite (du destinataire )?pleine|postfach (ist )?voll|speicherplatz|casella (piena|postale piena)|buz[oó]n lleno/;
const TOO_BIG = /(message|mail|e-?mail)( size)? (is |was )?(too (big|large|long)|exceeds)|size (limit )?exceed|exceeds? (the )?(max(imum)?|fixed|size) (allowed )?(message )?(size|limit)|message length exceeds|message size (limit|exceeds|too)|too large|too big for|max(imum)? message size|size of (the )?message/;
const EXCEED_LIMIT = /message length exceeds administrative limit|(size|limit) (allowed |permitted )?for (this|the|your|that) (mailbox|user|recipient|account)|exceeds? (the )?(per-?user|recipient'?s?|mailbox) (message )?(size )?limit/;
const SUSPEND = /(mailbox|account|user|recipient|address)( is| has been| was)? (temporarily |currently )?(suspended|disabled|deactivated|inactive|frozen|locked|blocked for inactivity|archived)|(is )?currently suspended|temporar(il)?y locked|inactive (account|user|mailbox|recipient)|invalid\/inactive user|is a deactivated mailbox|user is terminated|disabled or discontinued|user or domain is disabled|recipient suspend|user suspended|account is locked|archived recipient|boite du destinataire archivee|mailbox unavailable or access denied|(the )?email account that you tried to reach is (disabled|inactive)|no longer (accepting|accepts) mail/;
const MOVED = /has been replaced by|has moved|moved permanently|no longer (at|with) (this|our)|is no longer (valid|in use|active|available|here)|address (has )?changed|not our customer|mailbox owner has changed|domain owner has changed/;
const NO_RELAY = /relay(ing)? (access )?(denied|not (permitted|allowed))|(unable|not allowed|not permitted) to relay|no relaying|as a relay|insecure mail relay|not (configured|permitted|authori[sz]ed) to relay|relay not permitted|relaying mail to|open relay|we do not relay|not a gateway|we don'?t handle mail for|isn'?t in my list of allowed rcpthosts|is not permitted to relay|requires authentication when attempting to send to a non-local/;
const AUTH_FAIL = /\bdmarc\b|\bspf\b|\bdkim\b|domainkeys|sender ?id\b|fails? to pass|(authentication|validation) (checks? )?fail|unauthenticated (mail|email|message|sender)|not authenticated|(is|was) not (properly )?authenticated|authentication (is )?required for (this|your) (domain|message)|forged|spoof|arc validation/;
const REQUIRE_PTR = /reverse (dns|lookup|hostname|mapping)|\bptr\b|\brdns\b|no (dns |reverse )?(name|hostname) for (your )?ip|cannot find your (reverse )?hostname|client host .{0,60}(does not resolve|name lookup failed|not resolv)|unresolvable|ip name lookup failed|did not resolve|mismatch(ed)? dns|no (valid )?dns (record )?for (the |your )?(sending|connecting) (ip|host)/;
const VIRUS = /\bvirus|malware|infected|trojan|worm detected|(illegal|banned|dangerous|executable|forbidden) (attachment|file|content)|attachment (type )?(not allowed|rejected|blocked)|executable files/;
const REPUTATION = /reputation|sender ?score|poor (email )?score|temporarily deferred due to (unexpected volume or )?user complaints|user complaints|low (sender )?trust/;
const SPAM = /\bspam(?!haus|cop)|\bube\b|\buce\b|unsolicited|bulk (e-?)?mail|bulk\.advertising|\bjunk|phish|content (filter|rejected|policy|scan)|filter(ed)? (as|for) (spam|junk|bulk)|message (content )?(rejected|refused|denied|not accepted) (because|due to|as) (of )?(its |unacceptable )?content|mail content denied|rejecting (banned |mail )?content|suspicious|high probability|rated as|classified as|looks like|uribl|surbl|\bscore\b|points?\b.{0,30}(threshold|exceed)|recurrent pattern|message filtered/;
const BLOCKLIST = /black ?list|block ?list|deny ?list|\brbl\b|dnsbl|spamhaus|spamcop|abuseat|\bcbl\b|sorbs|barracuda|senderbase|(?<!not )listed (at|in|on|by)|blocked (using|by|for|-|because|due)|was blocked|is blocked|(ip|client host|client|host|network|connecting host|sending host|sending server|your server)( address)? (is |has been |was )?(blocked|banned|blacklisted|denied|not allowed|refused|rejected)|\bbanned\b|dynamic(ally)?( assigned)? ip|dial-?up|residential|zombie|open proxy|helo (command )?rejected|(client|sender) host rejected|access denied.{0,30}(ip|host|client)|connection (refused|dropped|rejected|not accepted)|you are not allowed to connect|not accepting (connections|mail) from|go away|service not available, closing transmission channel|after initial connection|please use (the )?smtp server of your (isp|provider)|your (ip|server|host|network)|from your ip|abuse (detected|report)|too many (spams|unwanted)|\brtr:(bb|gl|rd|sr)\b|\bdyn:t1\b|blocked\b/;
const SENDER_REJECTED = /sender (address |domain |mail ?box |e-?mail address |email )?(is |was |has been )?(rejected|refused|denied|invalid|unknown|blacklisted|not (found|allowed|verified|permitted|authori[sz]ed|accepted|pre-?approved))|(domain|address) of sender( address)? .{0,80}(does ?n[o']t exist|not found|unknown|invalid|must|resolve)|sender verif\w* fail|unverified sender|unknown sender|invalid sender|bogus mail from|null sender|empty envelope sender|mail from (not owned|.{0,60}(refused|rejected|denied))|sender (is )?(in my black ?list|spammer)|sender domain (must exist|is empty|does not exist)|unroutable sender|email address is not verified|emetteur invalide|batv|backscatter|returned mail not accepted|does not accept mail from|not on the recipient'?s list of senders|you are not allowed to post|from: domain is invalid|fully qualified email address required|administrative prohibition|mail from not/;
const NOT_COMPLIANT = /rfc ?(2822|5322|822|1035|5321)|not (rfc|standards?)[ -]compliant|non-?compliant|header (error|syntax|violation)|bad header|malformed (header|message)|(invalid|missing|duplicate|multiple) (from|date|message-id|subject|header)|messages with multiple addresses|multiple addresses in from|8-?bit|bare (lf|cr)|line (is )?too long|header are not accepted/;
const POLICY = /polic(y|ies)|not accepting (e-?)?mail (with|containing)|(do not|don'?t) have permission|not a member|permission denied|not (allowed|permitted|authori[sz]ed)|prohibited|forbidden|organi[sz]ation(al)? settings|members-?only|non-?member|closed mailing list|not subscribed to (this|the) (group|list)|restricted|moderat|mass mailer|captcha|low priority|not accepted for policy/;
const CONTENT = /content (error|not accepted|rejected)|(media|mime|encoding|charset|conversion) (not supported|error|failed|required)|(illegal|invalid) (character|mime|encoding)|message (content|body) (is )?(invalid|malformed)/;
const SPEEDING = /rate[ -]?limit|(sending|receiving|message|connection) (rate|limit|quota) (exceeded|reached)|too (many|much) (mail|messages|emails|e-?mails|recipients in a short|traffic)|too fast|throttl|slow down|sending (quota|limit)|daily (user )?(sending )?(limit|quota)|(hourly|daily) (limit|quota)|exceeded (the )?(rate|limit of)|unusual (rate|volume)|temporarily rate/;
const TOO_MANY_CONN = /too many (connections|concurrent|sessions|simultaneous|smtp sessions|recipients)|connection limit|(maximum|max) (number of )?(connections|sessions)/;
const FILTERED = /user rules?|user reject|recipient (id )?refuse|refuses? to (accept|receive)|refused due to recipient preferences|only accepting mail from specific|you have been blocked by the recipient|account is protected by|blocked by (the )?recipient|restricted sms e-?mail|message filtered|is not accepting any mail|recipient preferences|not found recipient account/;
const USER_UNKNOWN = /user ?unknown|unknown (user|recipient|mailbox|account|address|local[- ]?part|alias|e-?mail address)|recipient (address )?unknown|no such (user|recipient|mailbox|account|address|local user|person|one)|no (mailbox|account|one) (here |at this address|by that name|found|available)|no mail ?box (available|here)|(user|recipient|mailbox|account|address|addressee|e-?mail address|email account) (was |is )?not (found|known|exist|valid|active|local|present)|could ?n[o']?t be found|(does ?n[o']?t|did not|not) exists?\b|invalid (recipient|mailbox|user|address|e-?mail|destination)|(recipient|mailbox|user|address) (is )?invalid|not a (valid|known) (mailbox|recipient|user|address)|is not a known user|illegal (user|alias|address)|unknown or illegal|mailbox (is |currently )?(unavailable|not available)|recipient address rejected|bad (destination |recipient )?(mailbox|address|recipient)|recip(ient)? ?not ?found|unknown in (local|virtual|relay)|not known at this site|unknown virtual user|bad ?rcpt ?to|badrecipientto|not in my validrcptto|no valid recipients?\b|recipient not ok|(not found|not present) in (the )?directory|(address|mailbox) not present|envelope recipient has been (deleted|denied)|missing home directory|utilisateur inconnu|destinataire inconnu|no existe|unbekannt|existiert nicht|non esiste|nessun utente|account (has been |was |is )?(deleted|closed|terminated|removed|cancell?ed|expired)|doesn'?t have an? .{1,40}account|not listed in .{0,30}(directory|address book)|there is no one at this address|wrong or no longer valid|name is not found|nonexistent user|non-existent (user|mailbox|address)|not (a )?local (address|user|recipient)|recipient is not local|can'?t accept user|address (does not exist|invalid|unknown|not exist)|(is|was) undeliverable|spectator does not exist|mailbox not found|no thank you rejected/;
const HOST_UNKNOWN = /host (or domain name )?not found|host unknown|unknown host|domain (name )?(not found|unknown|does ?n[o']?t exist|is not reachable|must exist)|(recipient |mail )?domain (is )?(unknown|invalid|not exist)|no such domain|unrout(e)?able (mail )?(domain|address)|couldn'?t find (a |any )?(mail exchanger|host)|no mx\b|no mx record|nxdomain|invalid domain|name or service not known|all relevant mx records point to non-existent hosts|domain .{0,60} does not exist|unknown domain/;
const NOT_ACCEPT = /does not accept (any )?(e-?)?mail(?! (with|from|containing))|null mx|nullmx|mail receiving disabled|no route for current request|not accepting (any )?(e-?)?mail(?! (with|from|containing))|indicated no smtp service|smtp protocol returned a permanent error/;
const SYSTEM_FULL = /(mail )?system (is )?full|server (is )?full|insufficient system (storage|resources)|disk full|mail ?spool (is )?full|congest/;
const NETWORK = /loop|too many hops|hop count|no route to host|(host|network) (is )?unreachable|(dns|name ?server|host name) (lookup|query|resolution)? ?(failure|failed|error|problem)|malformed (or unexpected )?name server reply|try again later.{0,20}dns|temporary (dns|lookup) failure|unable to resolve|could not (connect|resolve)|connection (was )?(reset|closed|lost|timed out|failed)|lost connection|socket error|broken pipe|network (error|failure)/;
const EXPIRED = /expired|timed? ?out|time-?out|too long in (the )?queue|in the queue too long|(have|has) been failing|retry time not reached|giving up|could not be delivered for (more than )?\d+|will be retried|retry timeout|delivery attempts will continue|maximum (time|retries)|after multiple retries|not reachable within|server did not respond|not (been )?collected/;
const SYSTEM_ERROR = /system (error|config)|configuration error|local (error|problem)|internal (server )?error|temporary (local )?(problem|failure|error)|service (currently |temporarily )?unavailable|try (again )?later|temporar|server (error|busy|misconfigured)|transaction failed|interrupted system call|queue file write error|could not load|unable to connect .{0,30}daemon|encountered an error/;
const SECURITY = /authentication (credentials invalid|failure|required|turned on)|unauthenticated senders|verification failure|starttls|tls (is )?required|encryption (is )?required|\bssl\b|certificate|not authorized to send|you don'?t authenticate|security (policy|policies|violation|reasons)|access denied/;
const SYNTAX = /syntax error|command (not recognized|unrecognized|not implemented)|bad sequence of commands|unrecognized command|invalid command|line too long/;
const GENERIC_BLOCK = /\bdenied\b|refused|rejected|not accepted|\bblocked\b|unacceptable|declined/;

const EXPIRED_STRONG = /message expired|retry timeout exceeded|delivery (time )?expired|expired after|retry time not reached|(in|sitting in) (the )?queue (too long|for)|too long in (the )?queue|could not be delivered for (more than )?\d|unable to deliver message after multiple retries|not reachable within the allowed queue/;
const SENDING_LIMIT = /sending (quota|limit)|daily (user )?sending (quota|limit)/;
const KDDI_FILTER = /(^|[^\d])550 : user unknown/; // au/KDDI report the receiver's own filter this way
const DBEB = /recipient address rejected: access denied/; // Exchange Online: recipient not in directory

// ───────────────────────────────────────────── judge ─────────────────────────────────────────────

const ENHANCED_RE = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/;
const REPLY_RE = /(?<![\w.\-:=/#])([245]\d\d)(?=[ \-])/;

/** The first RFC 3463 code in a text, preferring a failure (4.x.x / 5.x.x) over a success. */
export function extractStatus(text: string | null): string | null {
  const all = [...(text ?? '').slice(0, MAX_DIAGNOSTIC).matchAll(new RegExp(ENHANCED_RE.source, 'g'))];
  const m = all.find((x) => x[1] !== '2') ?? all[0];
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3])}` : null;
}

/** The first SMTP basic reply code (RFC 5321), preferring a failure; null when there is none. */
export function extractReply(text: string): string | null {
  const all = [...text.slice(0, MAX_DIAGNOSTIC).matchAll(new RegExp(REPLY_RE.source, 'g'))].map((x) => x[1]);
  return all.find((c) => c[0] !== '2') ?? all[0] ?? null;
}

export function hasCode(text: string): boolean {
  return ENHANCED_RE.test(text) || REPLY_RE.test(text);
}

/** The SMTP command a failure answered, from Postfix "(in reply to X command)", Exim "after X", Sendmail ">>> X". */
export function smtpCommand(text: string): SmtpCommand {
  const t = text.slice(0, MAX_DIAGNOSTIC).toLowerCase();
  const m = /in reply to (rcpt|mail|data|end of data|helo|ehlo|message)|\bafter (rcpt|mail|data|end of data|helo|ehlo|initial connection|pipelined|sending (?:data|message))|>>> (rcpt|mail|data|helo|ehlo)\b|\b(rcpt|mail) to:?.{0,80}(?:rejected|refused)|while talking to|smtp error from remote mail server after (rcpt|mail|end of data|data|helo|ehlo|initial)/.exec(t);
  const word = m ? (m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5] ?? '') : '';
  if (!word) return null;
  if (word.startsWith('rcpt')) return 'RCPT';
  if (word.startsWith('mail')) return 'MAIL';
  if (word.startsWith('helo') || word.startsWith('ehlo')) return 'HELO';
  if (word.startsWith('initial')) return 'CONN';
  return 'DATA';
}

/** Lower-case, URLs reduced to their host, addresses replaced by <addr>, whitespace collapsed. */
export function normalizeDiagnostic(text: string): string {
  return text.slice(0, MAX_DIAGNOSTIC).toLowerCase()
    .replace(/https?:\/\/([^/\s]{1,255})[^\s]{0,2000}/g, ' $1 ')
    .replace(/<?[^\s<>()[\]"',;:@]{1,64}@[^\s<>()[\]"',;:@]{1,255}>?/g, ' <addr> ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** The kind Postgate acts on for a reason, given the class digit of the failure ('4', '5' or null). */
export function kindOf(reason: BounceReason, cls: string | null, code: string | null): BounceKind {
  if (reason === 'delivered' || reason === 'not_a_bounce' || reason === 'timeout' || reason === 'unparseable' || reason === 'empty') return 'unknown';
  if (reason === 'feedback') return 'feedback';
  if (reason === 'vacation') return 'autoreply';
  if (cls === '4') return 'soft';
  // 5.7.x is security or policy: never hard, except 5.7.27, the null MX of RFC 7505 (no mail at all).
  if ((HARD_REASONS as readonly string[]).includes(reason)) return code?.startsWith('5.7.') && code !== '5.7.27' ? 'blocked' : 'hard';
  if ((BLOCKED_REASONS as readonly string[]).includes(reason)) return 'blocked';
  return 'soft';
}

const first = (text: string, rules: ReadonlyArray<readonly [RegExp, BounceReason]>): BounceReason | null => {
  for (const [re, reason] of rules) if (re.test(text)) return reason;
  return null;
};

/** Reasons a text can prove whatever the status code says (before the code is looked at). */
const OVERRIDING: ReadonlyArray<readonly [RegExp, BounceReason]> = [
  [EXPIRED_STRONG, 'expired'], [SENDING_LIMIT, 'speeding'], [FULL, 'mailboxfull'], [EXCEED_LIMIT, 'exceedlimit'], [TOO_BIG, 'mesgtoobig'],
  [SUSPEND, 'suspend'], [KDDI_FILTER, 'filtered'], [DBEB, 'userunknown'], [NO_RELAY, 'norelaying'],
  [VIRUS, 'virusdetected'], [SPAM, 'spamdetected'], [BLOCKLIST, 'blocked'], [AUTH_FAIL, 'authfailure'], [REQUIRE_PTR, 'requireptr'],
  [REPUTATION, 'badreputation'], [SENDER_REJECTED, 'rejected'], [NOT_COMPLIANT, 'notcompliantrfc'], [SPEEDING, 'speeding'],
  [TOO_MANY_CONN, 'toomanyconn'], [FILTERED, 'filtered'], [MOVED, 'hasmoved'],
];
/** Reasons read from the text when neither the overriding texts nor an address code decided. */
const TEXTUAL: ReadonlyArray<readonly [RegExp, BounceReason]> = [
  [NOT_ACCEPT, 'notaccept'], [HOST_UNKNOWN, 'hostunknown'], [USER_UNKNOWN, 'userunknown'], [POLICY, 'policyviolation'],
  [CONTENT, 'contenterror'], [SYSTEM_FULL, 'systemfull'], [NETWORK, 'networkerror'], [EXPIRED, 'expired'],
  [SECURITY, 'securityerror'], [SYNTAX, 'syntaxerror'], [SYSTEM_ERROR, 'systemerror'], [GENERIC_BLOCK, 'blocked'],
];

/**
 * Judges one recipient's failure from its status code (RFC 3463, may be null) and diagnostic text
 * (any length; only MAX_DIAGNOSTIC characters are read). Pure and linear in the text.
 * @returns the reason (Sisimai vocabulary) and the kind it maps to; never `hard` on weak evidence.
 */
export function judge(status: string | null, diagnostic: string | null, ctx: JudgeContext = {}): Judgement {
  const raw = diagnostic ?? '';
  const text = normalizeDiagnostic(raw);
  // A non-specific X.0.0 status (Exim writes 5.0.0 for every failure) yields to the code the remote
  // reply carries; a 4xx reply that outlived the queue is still a temporary failure.
  const given = extractStatus(status);
  const inText = extractStatus(text);
  const code = given && (!given.endsWith('.0.0') || !inText) ? given : inText ?? given;
  const reply = extractReply(text);
  const cls = (given?.endsWith('.0.0') && reply?.[0] === '4') ? '4' : code?.[0] ?? reply?.[0] ?? null;
  const command = ctx.command ?? smtpCommand(raw);
  const action = ctx.action ?? null;
  const done = (reason: BounceReason): Judgement => ({ reason, kind: kindOf(reason, cls, code) });
  if (action === 'delivered' || action === 'relayed' || action === 'expanded' || cls === '2') return { kind: 'unknown', reason: 'delivered' };
  if (action === 'delayed') return { kind: 'soft', reason: 'delayed' };
  const byText = first(text, OVERRIDING);
  if (byText) return done(byText);
  const byCode = codeReason(code);
  // An address or mailbox code decides unless the text proved otherwise above; the vaguer system,
  // network, protocol and security codes let the words speak first.
  if (byCode && !['securityerror', 'systemerror', 'syntaxerror', 'networkerror'].includes(byCode)) return done(byCode);
  if (reply === '521' || reply === '556') return done('notaccept');
  if (reply === '525') return done('suspend');
  if (command === 'CONN' || command === 'HELO') return done(cls === '5' || cls === null ? 'blocked' : 'networkerror');
  const byWords = first(text, TEXTUAL);
  if (byWords === 'userunknown' && command === 'DATA') return done('filtered');
  if (byWords === 'userunknown' || byWords === 'hostunknown') {
    if (code?.startsWith('5.7.')) return done('securityerror');
    if (command === 'MAIL') return done('rejected');
  }
  if (byWords) return done(byWords);
  if (byCode) return done(byCode);
  if (command === 'MAIL') return done('rejected');
  if (cls === null && !text) return { kind: 'unknown', reason: 'undefined' };
  return done(cls === null && text ? 'undefined' : 'onhold');
}
