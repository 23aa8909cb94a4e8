// The DNS records a sending domain publishes, and how a look-up's answer is judged (no I/O: the
// answers come from platform/dns.ts). Records:
// - verification  TXT  _postgate.<domain>            "postgate-verification=<token>"   (required)
// - dkim          TXT  <selector>._domainkey.<domain> "v=DKIM1; k=rsa; p=<key>" (RFC 6376 §3.6.2),
//                      as character-strings of at most 255 octets (RFC 1035 §3.3.14; RFC 7208 §3.3)
// - spf           TXT  <domain>                       "v=spf1 <SPF_INCLUDE> ~all" (RFC 7208): the
//                      mechanism is what must appear in the domain's one SPF record
// - dmarc         TXT  _dmarc.<domain>                "v=DMARC1; p=none" (RFC 7489): any DMARC record is ok
// - bounce_mx     MX   <BOUNCE_SUBDOMAIN>.<domain>    10 <BOUNCE_MX_HOST>. (the tenant's bounce domain)
import type { Lookup, MxRecord } from '../platform/dns.js';

/** The longest character-string of a TXT record (one length octet, RFC 1035 §3.3.14). */
export const TXT_STRING_MAX = 255;

export type RecordPurpose = 'verification' | 'dkim' | 'spf' | 'dmarc' | 'bounce_mx';
export type RecordStatus = 'ok' | 'missing' | 'mismatch' | 'error';

/** One record to publish, in the fields of a DNS control panel and as a zone-file line. */
export interface DnsRecord {
  purpose: RecordPurpose; type: 'TXT' | 'MX';
  /** Owner name, without the trailing dot. */
  name: string;
  /** The record data: a TXT's text (strings joined) or an MX's "priority host.". */
  value: string;
  /** A TXT's character-strings (each ≤ 255), as published. */
  strings?: string[];
  /** The zone-file line: `name. IN TXT "…" "…"` or `name. IN MX 10 host.`. */
  zone: string;
  /** Whether verification depends on it (only the verification TXT does; the others are advice). */
  required: boolean;
  /** DKIM only: the selector and the key's state. */
  selector?: string; keyState?: string;
}

/** A record's status after a look-up: what was found (TXT strings joined, MX as "priority host"). */
export interface RecordCheck { purpose: RecordPurpose; name: string; status: RecordStatus; expected: string; found: string[]; error?: string }

/** Where the SPF, DMARC and bounce MX advice comes from (configuration). */
export interface RecordSettings { spfMechanism: string; bounceSubdomain: string; bounceMxHost: string }

/**
 * The advice settings from configuration: SPF_INCLUDE (default `a:<host of PUBLIC_URL>`, the host
 * Postgate runs on), BOUNCE_SUBDOMAIN, BOUNCE_MX_HOST (default the host of PUBLIC_URL, where the
 * inbound SMTP listener runs).
 */
export function recordSettings(config: { SPF_INCLUDE?: string; BOUNCE_SUBDOMAIN: string; BOUNCE_MX_HOST?: string; PUBLIC_URL: string }): RecordSettings {
  const host = new URL(config.PUBLIC_URL).hostname.toLowerCase();
  return {
    spfMechanism: config.SPF_INCLUDE ?? `a:${host}`,
    bounceSubdomain: config.BOUNCE_SUBDOMAIN.toLowerCase(),
    bounceMxHost: (config.BOUNCE_MX_HOST ?? host).toLowerCase().replace(/\.$/, ''),
  };
}

/** Splits a TXT value into character-strings of at most `max` octets (ASCII values: characters). */
export function splitTxt(value: string, max = TXT_STRING_MAX): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += max) out.push(value.slice(i, i + max));
  return out.length ? out : [''];
}

/** A zone-file TXT line: each string quoted (\ and " escaped), separated by spaces. */
export function zoneTxt(name: string, strings: string[]): string {
  return `${name}. IN TXT ${strings.map((s) => `"${s.replace(/["\\]/g, (ch) => `\\${ch}`)}"`).join(' ')}`;
}

/** The DKIM key record's text (RFC 6376 §3.6.1): RSA, the public key as base64 DER (SPKI). */
export function dkimTxtValue(publicKey: string): string {
  return `v=DKIM1; k=rsa; p=${publicKey}`;
}

/** The DKIM TXT record of a key, split into ≤ 255-character strings. */
export function dkimRecord(domain: string, k: { selector: string; publicKey: string; state?: string }): DnsRecord {
  const name = `${k.selector}._domainkey.${domain}`;
  const value = dkimTxtValue(k.publicKey);
  const strings = splitTxt(value);
  return { purpose: 'dkim', type: 'TXT', name, value, strings, zone: zoneTxt(name, strings), required: false, selector: k.selector, keyState: k.state };
}

export function verificationValue(token: string): string {
  return `postgate-verification=${token}`;
}

function txtRecord(purpose: RecordPurpose, name: string, value: string, required: boolean): DnsRecord {
  const strings = splitTxt(value);
  return { purpose, type: 'TXT', name, value, strings, zone: zoneTxt(name, strings), required };
}

/** Every record to publish for a domain: verification, its DKIM keys (pending and active), SPF, DMARC, bounce MX. */
export function domainRecords(domain: string, token: string, keys: { selector: string; publicKey: string; state: string }[], s: RecordSettings): DnsRecord[] {
  const mxName = `${s.bounceSubdomain}.${domain}`;
  return [
    txtRecord('verification', `_postgate.${domain}`, verificationValue(token), true),
    ...keys.map((k) => dkimRecord(domain, k)),
    txtRecord('spf', domain, `v=spf1 ${s.spfMechanism} ~all`, false),
    txtRecord('dmarc', `_dmarc.${domain}`, 'v=DMARC1; p=none', false),
    { purpose: 'bounce_mx', type: 'MX', name: mxName, value: `10 ${s.bounceMxHost}.`, zone: `${mxName}. IN MX 10 ${s.bounceMxHost}.`, required: false },
  ];
}

/** The tags of a DKIM key record (RFC 6376 §3.2: tag=value; whitespace around and inside base64 ignored). */
export function dkimTags(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

function unanswered<T>(r: Lookup<T>, base: Omit<RecordCheck, 'status' | 'found'>): RecordCheck | null {
  if (r.kind === 'error') return { ...base, status: 'error', found: [], error: r.error };
  if (r.kind === 'missing') return { ...base, status: 'missing', found: [] };
  return null;
}

/**
 * Judges one record against its look-up: ok (present as advised), missing (no such name or no
 * relevant record), mismatch (a relevant record with other data: `found` says what), or error (no answer).
 */
export function checkRecord(rec: DnsRecord, answer: Lookup<string[]> | Lookup<MxRecord>, s: RecordSettings): RecordCheck {
  const base = { purpose: rec.purpose, name: rec.name, expected: rec.value };
  if (rec.type === 'MX') {
    const r = answer as Lookup<MxRecord>;
    const early = unanswered(r, base);
    if (early || r.kind !== 'found') return early as RecordCheck;
    const found = r.records.map((m) => `${m.priority} ${m.exchange.replace(/\.$/, '')}.`);
    const ok = r.records.some((m) => m.exchange.toLowerCase().replace(/\.$/, '') === s.bounceMxHost);
    return { ...base, status: ok ? 'ok' : 'mismatch', found };
  }
  const r = answer as Lookup<string[]>;
  const early = unanswered(r, base);
  if (early || r.kind !== 'found') return early as RecordCheck;
  const texts = r.records.map((strings) => strings.join(''));
  // `single`: the record must be the only one of its kind at the name (DKIM, SPF and DMARC are
  // undefined or a permerror with two); verification tokens of several claimants may coexist.
  const judge = (relevant: (t: string) => boolean, ok: (t: string) => boolean, single = true): RecordCheck => {
    const found = texts.filter(relevant);
    if (!found.length) return { ...base, status: 'missing', found: [] };
    const good = single ? found.length === 1 && ok(found[0]) : found.some(ok);
    return { ...base, status: good ? 'ok' : 'mismatch', found };
  };
  switch (rec.purpose) {
    case 'verification':
      return judge((t) => t.startsWith('postgate-verification='), (t) => t === rec.value, false);
    case 'dkim': {
      const want = dkimTags(rec.value).get('p');
      return judge((t) => dkimTags(t).has('p'), (t) => dkimTags(t).get('p') === want);
    }
    case 'spf': {
      const mechanism = s.spfMechanism.toLowerCase();
      return judge((t) => /^v=spf1(\s|$)/i.test(t), (t) => t.toLowerCase().split(/\s+/).some((m) => m.replace(/^[+~?-]/, '') === mechanism));
    }
    case 'dmarc':
      return judge(() => true, (t) => /^v=DMARC1\s*(;|$)/i.test(t));
    default:
      return { ...base, status: 'mismatch', found: texts };
  }
}
