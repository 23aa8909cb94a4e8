// Checking a sending domain's records in DNS: each record is looked up (outside any transaction: a
// look-up may take seconds), judged (records.ts), and the result recorded. The verification TXT ok →
// the domain is verified (by 'dns'); a pending DKIM key whose record resolves with its p= → active
// (the domain's previous active key retired). Shared by the API and nothing else: the CLI vouches.
import type { Db } from '../platform/db.js';
import { printable, type DnsLookup } from '../platform/dns.js';
import { DomainError, notFoundError } from '../domain-error.js';
import { activateDkimKey, dkimKeysOf, getDkimKey, type DkimKeyInfo } from './dkim.js';
import { getDomain, markVerified, recordCheck, type SendingDomain } from './domains.js';
import { checkRecord, dkimRecord, domainRecords, type DnsRecord, type RecordCheck, type RecordSettings } from './records.js';

/**
 * Looks every record up and judges it, all at once (each look-up bounded by the resolver's timeouts).
 * Each record stands alone: one whose look-up or judging fails is status error, never failing the
 * others (an advisory record never blocks the verification TXT); what was found is kept printable
 * (no NUL: it is stored as jsonb).
 */
export async function checkRecords(dns: DnsLookup, records: DnsRecord[], s: RecordSettings): Promise<RecordCheck[]> {
  return Promise.all(records.map(async (rec): Promise<RecordCheck> => {
    try {
      const k = checkRecord(rec, rec.type === 'MX' ? await dns.mx(rec.name) : await dns.txt(rec.name), s);
      return { ...k, found: k.found.map(printable), ...(k.error === undefined ? {} : { error: printable(k.error) }) };
    } catch (err) {
      return { purpose: rec.purpose, name: rec.name, expected: rec.value, status: 'error', found: [], error: printable(String((err as Error)?.message ?? err)) };
    }
  }));
}

export interface VerifyResult { domain: SendingDomain; checks: RecordCheck[]; activated: string[] }

/**
 * Verifies a domain of the tenant: looks up its records, records each status, marks it verified when
 * the verification TXT is right (DomainError domain_taken when another tenant has it verified), and
 * activates each pending DKIM key of a verified domain whose record is right. not_found: no such domain.
 */
export async function verifyDomain(db: Db, dns: DnsLookup, tenantId: string, name: string, s: RecordSettings): Promise<VerifyResult> {
  const before = await db.withTenant(tenantId, async (c) => {
    const domain = await getDomain(c, name);
    return domain ? { domain, keys: await dkimKeysOf(c, name, ['pending', 'active']) } : null;
  });
  if (!before) throw notFoundError('domain', 'domain');
  const records = domainRecords(name, before.domain.token, before.keys, s);
  const checks = await checkRecords(dns, records, s);
  return db.withTenant(tenantId, async (c) => {
    await recordCheck(c, name, checks);
    const verificationOk = checks.some((k) => k.purpose === 'verification' && k.status === 'ok');
    let domain = (await getDomain(c, name)) as SendingDomain;
    if (verificationOk && domain.state !== 'verified') domain = await markVerified(c, tenantId, name, 'dns');
    const activated: string[] = [];
    if (domain.state === 'verified') {
      for (const k of before.keys.filter((x) => x.state === 'pending')) {
        const check = checks.find((x) => x.purpose === 'dkim' && x.name === dkimRecord(name, k).name);
        if (check?.status === 'ok' && await activateDkimKey(c, tenantId, name, k.selector)) activated.push(k.selector);
      }
    }
    return { domain: (await getDomain(c, name)) as SendingDomain, checks, activated };
  });
}

/**
 * Checks one DKIM key's record and activates the key (pending → active, the previous active key
 * retired) when it resolves with the key's p= and its domain is verified. not_found: no such key.
 */
export async function verifyDkimKey(db: Db, dns: DnsLookup, tenantId: string, domain: string, selector: string, s: RecordSettings): Promise<{ key: DkimKeyInfo; check: RecordCheck }> {
  const key = await db.withTenant(tenantId, (c) => getDkimKey(c, domain, selector));
  if (!key) throw notFoundError('DKIM key', 'selector');
  const [check] = await checkRecords(dns, [dkimRecord(domain, key)], s);
  return db.withTenant(tenantId, async (c) => {
    if (check.status === 'ok' && key.state === 'pending') {
      const d = await getDomain(c, domain);
      if (d?.state !== 'verified') throw new DomainError('unverified_domain', `${domain} is not verified for this tenant`, 'domain');
      await activateDkimKey(c, tenantId, domain, selector);
    }
    return { key: (await getDkimKey(c, domain, selector)) as DkimKeyInfo, check };
  });
}
