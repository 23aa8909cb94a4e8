// Sending domains and DKIM keys over the API (scope admin). The API never vouches for a domain: it
// is verified by its TXT record only (the operator vouches with the CLI). The SQL is domains.ts and
// dkim.ts; DNS checks are verification.ts; the records are records.ts.
//   POST /api/domains {domain}              add (201; 200 with the same token when the tenant has it); 409 domain_taken;
//                                           409 too_many_pending past MAX_PENDING_DOMAINS pending domains
//   GET  /api/domains                       list {items, nextCursor}
//   GET  /api/domains/{domain}              one, with the records to publish and the last check
//   POST /api/domains/{domain}/verify       look every record up, per-record status; verified / DKIM keys activated
//   DELETE /api/domains/{domain}            remove it (204); 409 conflict while the From address or bounce domain uses it
//   POST /api/dkim {selector, domain?}      a new PENDING key of a verified domain (201); 409 selector_exists;
//                                           409 too_many_pending past MAX_PENDING_DKIM_KEYS pending keys of the domain
//   GET  /api/dkim                          list keys with their state, times and records
//   POST /api/dkim/{domain}/{selector}/verify  look the key's record up; active when it resolves with the key
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { decodeKeyset, encodeKeyset, page, timestamp } from '../platform/responses.js';
import { DomainError, notFoundError } from '../domain-error.js';
import { addressDomain, isCoveredDomain, normalizeDomain } from '../policy/domains.js';
import { assertRoomForDkimKey, dkimKeysOf, generateDkimKey, insertDkimKey, listDkimKeys, lockDkimGeneration, MAX_PENDING_DKIM_KEYS, type DkimKeyInfo } from './dkim.js';
import { addDomain, deleteDomain, getDomain, isDomainName, listDomains, MAX_PENDING_DOMAINS, verifiedDomains, type SendingDomain } from './domains.js';
import { dkimRecord, domainRecords, recordSettings, type RecordSettings } from './records.js';
import { getTenant } from './store.js';
import { verifyDkimKey, verifyDomain } from './verification.js';

/** A domain in a request (POST /api/domains, POST /api/dkim, the tenant's bounceDomain): normalised, then isDomainName (no IP literal). */
export const domainName = z.string().max(253).transform(normalizeDomain).refine(isDomainName, 'must be a domain name (two or more DNS labels, not an IP address)');
const selectorName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/i, 'must be a DNS label').transform((v) => v.toLowerCase());
const listQuery = { limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() };

const purpose = z.enum(['verification', 'dkim', 'spf', 'dmarc', 'bounce_mx']);
const recordView = z.object({
  purpose, type: z.enum(['TXT', 'MX']), name: z.string().describe('owner name (no trailing dot)'),
  value: z.string().describe("the record's data: a TXT's text (its strings joined) or an MX's 'priority host.'"),
  strings: z.array(z.string().max(255)).optional().describe('a TXT as published: character-strings of at most 255 characters'),
  zone: z.string().describe('the zone-file line to publish'),
  required: z.boolean().describe('true only for the verification TXT; the others are advice'),
  selector: z.string().optional(), keyState: z.string().optional(),
});
const checkView = z.object({
  purpose, name: z.string(), status: z.enum(['ok', 'missing', 'mismatch', 'error']),
  expected: z.string(), found: z.array(z.string()).describe('the relevant records found (TXT strings joined; MX as "priority host.")'),
  error: z.string().optional().describe('status error: why the look-up got no answer'),
});
const domainSummary = z.object({
  domain: z.string(), state: z.enum(['pending', 'verified']), verifiedBy: z.enum(['dns', 'operator']).nullable(),
  verifiedAt: timestamp.nullable(), createdAt: timestamp, checkedAt: timestamp.nullable(),
});
const domainDetail = domainSummary.extend({
  records: z.array(recordView), lastCheck: z.array(checkView).nullable().describe('per-record status of the last verify, null before the first'),
});
const verifyView = domainSummary.extend({
  checks: z.array(checkView), activatedKeys: z.array(z.string()).describe('selectors of DKIM keys this check activated'),
});
const dkimKeyView = z.object({
  domain: z.string(), selector: z.string(), state: z.enum(['pending', 'active', 'retired']),
  createdAt: timestamp, activatedAt: timestamp.nullable(), retiredAt: timestamp.nullable(),
  removableAfter: timestamp.nullable().describe('retired keys: when the TXT record may be removed (retirement + DKIM_RETIRE_GRACE_DAYS)'),
  dnsRecord: z.string().describe('the zone-file line to publish (strings of at most 255 characters)'),
  record: recordView,
});

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);

function summary(d: SendingDomain): z.infer<typeof domainSummary> {
  return { domain: d.domain, state: d.state, verifiedBy: d.verifiedBy, verifiedAt: iso(d.verifiedAt), createdAt: iso(d.createdAt) as string, checkedAt: iso(d.checkedAt) };
}

/** The DKIM key as listed: state, times, when a retired key's record may go, and its split TXT record. */
export function dkimKeyItem(k: DkimKeyInfo, graceDays: number): z.infer<typeof dkimKeyView> {
  const record = dkimRecord(k.domain, k);
  const removable = k.retiredAt ? new Date(new Date(k.retiredAt).getTime() + graceDays * 86_400_000) : null;
  return {
    domain: k.domain, selector: k.selector, state: k.state, createdAt: iso(k.createdAt) as string, activatedAt: iso(k.activatedAt),
    retiredAt: iso(k.retiredAt), removableAfter: iso(removable), dnsRecord: record.zone, record,
  };
}

/** Runs `fn` after every earlier call with the same key has settled (an in-process queue per key). */
function serialQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<void>>();
  return (key, fn) => {
    const run = (tails.get(key) ?? Promise.resolve()).then(fn);
    const tail = run.then(() => undefined, () => undefined);
    tails.set(key, tail);
    void tail.then(() => { if (tails.get(key) === tail) tails.delete(key); });
    return run;
  };
}

/** A domain from the path: anything that is not a domain name is not one of the tenant's (404). */
function domainParam(params: Record<string, string>): string {
  const d = normalizeDomain(params.domain ?? '');
  if (!isDomainName(d)) throw notFoundError('domain', 'domain');
  return d;
}

/** Registers the domain and DKIM routes. */
export function domainRoutes(api: Api, deps: AppDeps): void {
  const { db, dns } = deps;
  const settings: RecordSettings = recordSettings(deps.config);
  const grace = deps.config.DKIM_RETIRE_GRACE_DAYS;
  const oneAtATime = serialQueue();

  const detail = async (tenantId: string, name: string) => db.withTenant(tenantId, async (c) => {
    const d = await getDomain(c, name);
    if (!d) throw notFoundError('domain', 'domain');
    const keys = await dkimKeysOf(c, name, ['pending', 'active']);
    return { ...summary(d), records: domainRecords(d.domain, d.token, keys, settings), lastCheck: d.lastCheck?.checks ?? null };
  });

  api.route({ method: 'post', path: '/api/domains', scope: 'admin', body: z.strictObject({ domain: domainName }), response: domainDetail, success: [201, 200], errors: [409],
    summary: `Add a sending domain: returns the DNS records to publish (201; 200 with the same token if already added; 409 domain_taken; 409 too_many_pending past ${MAX_PENDING_DOMAINS} pending domains)` },
  async ({ tenantId, body }) => {
    const out = await db.withTenant(tenantId, (c) => addDomain(c, tenantId, body.domain));
    return { status: out.created ? 201 : 200, body: await detail(tenantId, body.domain) };
  });

  api.route({ method: 'get', path: '/api/domains', scope: 'admin', query: z.strictObject(listQuery), response: page(domainSummary),
    summary: 'The sending domains of this tenant with their state, newest first; cursor-paged' },
  async ({ tenantId, query }) => {
    const after = query.cursor === undefined ? undefined : decodeKeyset(query.cursor);
    const rows = await db.withTenant(tenantId, (c) => listDomains(c, { after, limit: query.limit }));
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { body: { items: items.map(summary), nextCursor: rows.length > query.limit && last ? encodeKeyset({ at: last.cursorAt, id: last.id }) : null } };
  });

  api.route({ method: 'get', path: '/api/domains/:domain', scope: 'admin', response: domainDetail,
    summary: 'One sending domain: its state, the DNS records to publish and the last check' },
  async ({ tenantId, params }) => ({ body: await detail(tenantId, domainParam(params)) }));

  api.route({ method: 'post', path: '/api/domains/:domain/verify', scope: 'admin', response: verifyView, errors: [409],
    summary: 'Look the records up in DNS: per-record status (ok, missing, mismatch, error); the verification TXT ok verifies the domain, a pending DKIM key whose record is right becomes active' },
  async ({ tenantId, params }) => {
    const r = await verifyDomain(db, dns, tenantId, domainParam(params), settings);
    return { body: { ...summary(r.domain), checks: r.checks, activatedKeys: r.activated } };
  });

  api.route({ method: 'delete', path: '/api/domains/:domain', scope: 'admin', success: [204], errors: [404, 409],
    summary: 'Remove a sending domain (its DKIM keys stay, signing nothing); 409 conflict while the From address or the bounce domain depends on it' },
  async ({ tenantId, params }) => {
    const name = domainParam(params);
    await db.withTenant(tenantId, async (c) => {
      const t = await getTenant(c, tenantId);
      const others = (await verifiedDomains(c)).filter((d) => d !== name);
      if (t && addressDomain(t.fromEmail) === name) throw new DomainError('conflict', `the From address ${t.fromEmail} uses ${name}: change fromEmail first`, 'domain');
      if (t?.bounceDomain && isCoveredDomain(t.bounceDomain, [name]) && !isCoveredDomain(t.bounceDomain, others)) {
        throw new DomainError('conflict', `the bounce domain ${t.bounceDomain} depends on ${name}: change bounceDomain first`, 'domain');
      }
      if (!(await deleteDomain(c, name))) throw notFoundError('domain', 'domain');
    });
  });

  api.route({ method: 'post', path: '/api/dkim', scope: 'admin', body: z.strictObject({ selector: selectorName, domain: domainName.optional() }),
    response: dkimKeyView, success: [201], errors: [409],
    summary: `Generate a DKIM key for a verified domain (default: the From domain): PENDING until its TXT record resolves (verify); 409 selector_exists, never replaced; 409 too_many_pending past ${MAX_PENDING_DKIM_KEYS} pending keys of the domain` },
  async ({ tenantId, body }) => {
    // One generation per tenant at a time: in this process (a queue: a flood holds one database
    // connection, not the pool) and across processes (the advisory lock), taken before the RSA work.
    const key = await oneAtATime(`dkim:${tenantId}`, () => db.withTenant(tenantId, async (c) => {
      await lockDkimGeneration(c, tenantId);
      const t = await getTenant(c, tenantId);
      if (!t) throw notFoundError('tenant');
      const name = body.domain ?? addressDomain(t.fromEmail);
      const d = await getDomain(c, name);
      if (d?.state !== 'verified') throw new DomainError('unverified_domain', `${name} is not a verified domain of this tenant: add it with POST /api/domains and verify it first`, 'domain');
      await assertRoomForDkimKey(c, name, body.selector);
      return insertDkimKey(c, tenantId, name, body.selector, await generateDkimKey());
    }));
    return { status: 201, body: dkimKeyItem(key, grace) };
  });

  api.route({ method: 'get', path: '/api/dkim', scope: 'admin', query: z.strictObject({ ...listQuery, domain: domainName.optional() }), response: page(dkimKeyView),
    summary: 'DKIM keys, newest first: state (pending, active, retired), times, when a retired record may be removed, the TXT record; cursor-paged' },
  async ({ tenantId, query }) => {
    const after = query.cursor === undefined ? undefined : decodeKeyset(query.cursor);
    const rows = await db.withTenant(tenantId, (c) => listDkimKeys(c, { domain: query.domain, after, limit: query.limit }));
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { body: { items: items.map((k) => dkimKeyItem(k, grace)), nextCursor: rows.length > query.limit && last ? encodeKeyset({ at: last.cursorAt, id: last.id }) : null } };
  });

  api.route({ method: 'post', path: '/api/dkim/:domain/:selector/verify', scope: 'admin',
    response: z.object({ key: dkimKeyView, check: checkView }),
    summary: "Look a DKIM key's TXT record up: a pending key whose record resolves with its public key becomes active (the previous one retired)" },
  async ({ tenantId, params }) => {
    const selector = /^[a-z0-9][a-z0-9-]{0,62}$/i.test(params.selector ?? '') ? params.selector.toLowerCase() : null;
    if (!selector) throw notFoundError('DKIM key', 'selector');
    const r = await verifyDkimKey(db, dns, tenantId, domainParam(params), selector, settings);
    return { body: { key: dkimKeyItem(r.key, grace), check: r.check } };
  });
}
