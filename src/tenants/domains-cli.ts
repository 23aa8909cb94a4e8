// `postgate domain add | list` and `postgate dkim generate`: the operator's side of sending domains.
// The operator may vouch for a domain (`domain add --verified`: verified_by 'operator', also for a
// domain another tenant has verified: the operator's call) and activate a DKIM key at once
// (`dkim generate --activate`); the API can do neither. Records printed as zone-file lines.
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import type { Db } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { isUuid } from '../policy/ids.js';
import { addressDomain, normalizeDomain } from '../policy/domains.js';
import { dkimKeysOf, generateDkimKey, insertDkimKey } from './dkim.js';
import { addDomain, getDomain, isDomainName, listDomains, verifiedElsewhere, vouchDomain } from './domains.js';
import { dkimRecord, domainRecords, recordSettings } from './records.js';
import { getTenant, tenantExists } from './store.js';

export interface DomainCliIo {
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  usage(message: string): Error;
  out(text: string): void;
  config: Config;
}

/** A domain error as one line naming the option at fault. */
function asCliError(err: unknown): unknown {
  return err instanceof DomainError ? new Error(`${err.code}${err.field ? ` (--${err.field})` : ''}: ${err.message}`) : err;
}

function tenantOption(v: string | undefined, io: DomainCliIo): string {
  const t = v?.trim();
  if (!t) throw io.usage('--tenant is required');
  if (!isUuid(t)) throw io.usage(`no tenant ${t}`);
  return t;
}

function domainOption(v: string | undefined, io: DomainCliIo): string {
  const d = normalizeDomain(v ?? '');
  if (!d) throw io.usage('--domain is required');
  if (!isDomainName(d)) throw io.usage(`--domain must be a domain name (got ${JSON.stringify(v)})`);
  return d;
}

/**
 * The operator vouches for a tenant's domain (tenant create, the first start, domain add --verified):
 * verified_by 'operator'. Returns whether another tenant also has it verified (shared: allowed, said).
 */
export async function vouchForTenant(db: Db, tenantId: string, domain: string): Promise<{ shared: boolean }> {
  return db.withTenant(tenantId, async (c) => {
    const shared = await verifiedElsewhere(c, domain);
    await vouchDomain(c, tenantId, domain);
    return { shared };
  });
}

/** `postgate domain add --tenant ID --domain D [--verified] [--json]` and `postgate domain list --tenant ID [--json]`. */
export async function domainCommand(sub: 'add' | 'list', argv: string[], io: DomainCliIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    tenant: { type: 'string' }, domain: { type: 'string' }, verified: { type: 'boolean' }, json: { type: 'boolean' } } });
  const tenant = tenantOption(values.tenant, io);
  const settings = recordSettings(io.config);
  if (sub === 'list') {
    const rows = await io.withDb((db) => db.withTenant(tenant, async (c) => {
      if (!(await tenantExists(c, tenant))) throw io.usage(`no tenant ${tenant}`);
      return listDomains(c, { limit: 10_000 });
    }));
    const items = rows.map((d) => ({ domain: d.domain, state: d.state, verifiedBy: d.verifiedBy, verifiedAt: d.verifiedAt, createdAt: d.createdAt }));
    io.out(values.json ? items.map((i) => JSON.stringify(i)).join('\n') + (items.length ? '\n' : '')
      : items.map((i) => `${i.domain}  ${i.state}${i.verifiedBy ? ` (${i.verifiedBy})` : ''}\n`).join(''));
    return;
  }
  const domain = domainOption(values.domain, io);
  const out = await io.withDb(async (db) => {
    if (!(await db.withTenant(tenant, (c) => tenantExists(c, tenant)))) throw io.usage(`no tenant ${tenant}`);
    const shared = values.verified ? (await vouchForTenant(db, tenant, domain)).shared : false;
    return db.withTenant(tenant, async (c) => {
      if (!values.verified) await addDomain(c, tenant, domain, { operator: true });
      const d = (await getDomain(c, domain))!;
      return { d, shared, records: domainRecords(domain, d.token, await dkimKeysOf(c, domain, ['pending', 'active']), settings) };
    });
  }).catch((err: unknown) => { throw asCliError(err); });
  if (values.json) {
    io.out(JSON.stringify({ domain, state: out.d.state, verifiedBy: out.d.verifiedBy, sharedWithAnotherTenant: out.shared, records: out.records }) + '\n');
    return;
  }
  const lines = [`${domain}  ${out.d.state}${out.d.verifiedBy ? ` (${out.d.verifiedBy})` : ''}`];
  if (out.shared) lines.push(`note: ${domain} is also verified for another tenant (vouched for by the operator: shared)`);
  lines.push(out.d.state === 'verified' ? 'records to publish for signing and bounces:' : 'publish these records, then POST /api/domains/{domain}/verify:');
  for (const r of out.records.filter((x) => out.d.state !== 'verified' || x.purpose !== 'verification')) lines.push(`  ${r.zone}`);
  io.out(lines.join('\n') + '\n');
}

/**
 * `postgate dkim generate --tenant ID --selector S [--domain D] [--activate]`: a new key for a
 * verified domain (default: the From domain), pending unless --activate (the operator: active at
 * once, the previous active key retired). Prints the TXT record (strings of at most 255 characters).
 */
export async function dkimGenerateCommand(argv: string[], io: DomainCliIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    tenant: { type: 'string' }, selector: { type: 'string' }, domain: { type: 'string' }, activate: { type: 'boolean' } } });
  const tenant = tenantOption(values.tenant, io);
  const selector = values.selector?.trim() ?? '';
  if (!selector) throw io.usage('--selector is required');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/i.test(selector)) throw io.usage('--selector must be a DNS label');
  const key = await io.withDb(async (db) => {
    const domain = await db.withTenant(tenant, async (c) => {
      const t = await getTenant(c, tenant);
      if (!t) throw io.usage(`no tenant ${tenant}`);
      const d = values.domain !== undefined ? domainOption(values.domain, io) : addressDomain(t.fromEmail);
      if ((await getDomain(c, d))?.state !== 'verified') {
        throw io.usage(`${d} is not a verified domain of tenant ${tenant}: vouch for it first (postgate domain add --tenant ${tenant} --domain ${d} --verified)`);
      }
      return d;
    });
    const pair = await generateDkimKey();
    return db.withTenant(tenant, (c) => insertDkimKey(c, tenant, domain, selector, pair, { activate: values.activate === true }));
  }).catch((err: unknown) => { throw asCliError(err); });
  io.out(`${dkimRecord(key.domain, key).zone}\n`);
  if (key.state !== 'active') io.out(`; pending: publish it, then POST /api/dkim/${key.domain}/${key.selector}/verify (or generate with --activate)\n`);
}
