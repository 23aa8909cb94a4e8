// Test addresses (issue 15): the mailboxes a tenant may send test copies of its campaigns to, and the
// one owner of the table test_addresses (migrations/066_test_addresses.sql).
//
// An address the tenant names is 'pending' until the person at it confirms: Postgate mails it one
// 'verification' message (a ledger row, purpose test-address:<row id>:<n>, template 'test-address')
// holding a single-use capability link (/t/<token>, signed like activation links: policy/tokens.ts,
// purpose 'test_address', binding tenant and message; the message's data names the row). GET on the link shows a page; only the
// POST confirms (mail scanners prefetch GETs). Then the row is 'verified' and test sends may go to it.
//
// Nothing is mailed, and no test send goes, to an address any suppression names (hard bounce,
// complaint, erasure, manual; either scope): refused at the API (422 address_suppressed) and again at
// send time by the gate (policy/gate.ts: suppressed / complained; not_test_address once the row is
// gone; test_address_unverified while pending). Erasure deletes the row (forgetTestAddress).
//
// Rate limits, counted in PostgreSQL from the ledger (so every web process shares them, and deleting
// and re-adding an address does not reset them), each under a per-tenant transaction lock:
//   verification mails  TEST_ADDRESS_VERIFY_PER_HOUR per tenant (rolling hour),
//                       TEST_ADDRESS_VERIFY_PER_DAY per address (rolling 24 hours);
//   test sends          TEST_SENDS_PER_HOUR per tenant (rolling hour; one per recipient).
// Past a limit: DomainError rate_limited (HTTP 429 with Retry-After: the seconds until enough of the
// window's messages have aged out), and nothing is stored.
import { createHash } from 'node:crypto';
import type { Queryable } from '../platform/db.js';
import { DomainError, rateLimited } from '../domain-error.js';
import { signToken, verifyToken, type TokenKeys } from '../policy/tokens.js';
import { isUuid } from '../policy/ids.js';
import { enqueueMessage, type LedgerMessage } from '../mail/ledger.js';
import { claimUse, isUsed } from '../consent/activation.js';
import { suppressionsFor } from '../consent/suppressions.js';

export type TestAddressState = 'pending' | 'verified';

/** One row of test_addresses as the API shows it. */
export interface TestAddress {
  id: string;
  /** The address as the tenant gave it (normalised: trimmed, domain lower-case IDNA). */
  address: string;
  state: TestAddressState;
  verifiedAt: Date | null;
  createdAt: Date;
  /** When the last verification mail was queued; null for an address migrated from the old tenant setting and never mailed. */
  verificationSentAt: Date | null;
  /** Verification mails queued for this row. */
  verificationsSent: number;
}

/** The limits of one tenant's test addresses (config TEST_ADDRESS_VERIFY_PER_HOUR, TEST_ADDRESS_VERIFY_PER_DAY). */
export interface VerificationLimits { perTenantHour: number; perAddressDay: number }

/** At most this many test addresses per tenant (the old `testEmails` setting allowed 50 too). */
export const MAX_TEST_ADDRESSES = 50;
/** A verification link is valid this long after its mail was queued. */
export const VERIFICATION_TTL_DAYS = 7;
/** The template (and renderer) name of the verification mail. */
export const VERIFICATION_TEMPLATE = 'test-address';

const COLUMNS = `id, address, state, verified_at AS "verifiedAt", created_at AS "createdAt",
  verification_sent_at AS "verificationSentAt", verifications_sent AS "verificationsSent"`;

/** The comparison key of an address: lower-cased and trimmed (as contacts' email_key). */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}

// Every query names the tenant as well as relying on row-level security (the tenant transaction).

/** Every test address of the tenant, oldest first. */
export async function listTestAddresses(c: Queryable, tenantId: string): Promise<TestAddress[]> {
  return (await c.query<TestAddress>(`SELECT ${COLUMNS} FROM test_addresses WHERE tenant_id = $1 ORDER BY created_at, id`, [tenantId])).rows;
}

/** One test address of the tenant by row id or by address (case-insensitive); null when it has none such. */
export async function findTestAddress(c: Queryable, tenantId: string, ref: string, forUpdate = false): Promise<TestAddress | null> {
  const lock = forUpdate ? ' FOR UPDATE' : '';
  const r = isUuid(ref)
    ? await c.query<TestAddress>(`SELECT ${COLUMNS} FROM test_addresses WHERE tenant_id = $1 AND id = $2${lock}`, [tenantId, ref])
    : await c.query<TestAddress>(`SELECT ${COLUMNS} FROM test_addresses WHERE tenant_id = $1 AND address_key = $2${lock}`, [tenantId, addressKey(ref)]);
  return r.rows[0] ?? null;
}

/** The state of the tenant's test address `address` (gate facts at send time); null when it is none. */
export async function testAddressState(c: Queryable, tenantId: string, address: string | null): Promise<TestAddressState | null> {
  if (!address) return null;
  const r = await c.query<{ state: TestAddressState }>('SELECT state FROM test_addresses WHERE tenant_id = $1 AND address_key = $2', [tenantId, addressKey(address)]);
  return r.rows[0]?.state ?? null;
}

/** Deletes a test address by row id or address; true when one was deleted. */
export async function deleteTestAddress(c: Queryable, tenantId: string, ref: string): Promise<boolean> {
  const r = isUuid(ref)
    ? await c.query('DELETE FROM test_addresses WHERE tenant_id = $1 AND id = $2', [tenantId, ref])
    : await c.query('DELETE FROM test_addresses WHERE tenant_id = $1 AND address_key = $2', [tenantId, addressKey(ref)]);
  return (r.rowCount ?? 0) > 0;
}

/** Erasure (data-rights/erase.ts): the person's address stops being a test address; returns the rows deleted. */
export async function forgetTestAddress(c: Queryable, tenantId: string, address: string): Promise<number> {
  const r = await c.query('DELETE FROM test_addresses WHERE tenant_id = $1 AND address_key = $2', [tenantId, addressKey(address)]);
  return r.rowCount ?? 0;
}

/** Serialises this tenant's requests of one kind (verification mails, test sends) for the rest of the transaction. */
async function lockTenant(c: Queryable, tenantId: string, what: 'verification' | 'test'): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`test-addresses:${what}:${tenantId}`]);
}

/**
 * Throws rate_limited when `adding` more messages of `kind` would exceed `limit` in the rolling
 * window (`windowSeconds`), optionally only those to one address. Retry-After is the time until
 * enough of the window's messages age out for `adding` more to fit.
 */
async function assertUnderLimit(c: Queryable, q: { tenantId: string; kind: 'verification' | 'test'; windowSeconds: number; limit: number; adding: number; address?: string },
  message: (n: number) => string, field: string | null): Promise<void> {
  // The kind is written as a literal (one of two constants) so the partial index of migration 020
  // (WHERE kind <> 'marketing') provably applies.
  const kind = q.kind === 'test' ? "'test'" : "'verification'";
  const r = await c.query<{ at: Date }>(`SELECT created_at AS at FROM messages
    WHERE tenant_id = $1 AND kind = ${kind} AND created_at > now() - $2 * interval '1 second' AND ($3::text IS NULL OR lower(btrim(recipient)) = $3::text)
    ORDER BY created_at`, [q.tenantId, q.windowSeconds, q.address === undefined ? null : addressKey(q.address)]);
  const n = r.rows.length;
  if (n + q.adding <= q.limit) return;
  // The (n + adding - limit)-th oldest must leave the window first; beyond the limit itself, a whole window.
  const leaving = r.rows[n + q.adding - q.limit - 1];
  const retry = leaving ? Math.ceil((leaving.at.getTime() + q.windowSeconds * 1000 - Date.now()) / 1000) : q.windowSeconds;
  throw rateLimited(message(n), field, Math.max(1, retry));
}

/** What a request for a verification did: the row, and the queued mail (null: already verified, nothing sent). */
export interface VerificationRequest { testAddress: TestAddress; message: LedgerMessage | null }

/**
 * Adds `address` as a test address of the tenant (pending) and queues the mail that asks it to
 * confirm; for an address still pending, queues a new mail (the older links stay valid until used
 * or expired). An address already verified is returned as it is, and nothing is mailed.
 * Errors: address_suppressed (any suppression names it), invalid (more than MAX_TEST_ADDRESSES),
 * rate_limited (the limits above). The whole request is one transaction: refused, nothing is stored.
 */
export async function requestVerification(c: Queryable, tenantId: string, address: string, limits: VerificationLimits): Promise<VerificationRequest> {
  await lockTenant(c, tenantId, 'verification');
  const suppressed = await suppressionsFor(c, tenantId, address);
  if (suppressed.all || suppressed.marketing) {
    throw new DomainError('address_suppressed', 'this address is on the suppression list (a bounce, a complaint, an erasure or by hand): it gets no verification mail and no test sends', 'email');
  }
  let row = await findTestAddress(c, tenantId, address, true);
  if (row?.state === 'verified') return { testAddress: row, message: null };
  if (!row) {
    const n = (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM test_addresses WHERE tenant_id = $1', [tenantId])).rows[0].n;
    if (n >= MAX_TEST_ADDRESSES) throw new DomainError('invalid', `a tenant has at most ${MAX_TEST_ADDRESSES} test addresses; delete one first`, 'email');
  }
  await assertUnderLimit(c, { tenantId, kind: 'verification', windowSeconds: 3600, limit: limits.perTenantHour, adding: 1 },
    (n) => `${n} verification emails were sent for this tenant's test addresses in the last hour (at most ${limits.perTenantHour})`, null);
  await assertUnderLimit(c, { tenantId, kind: 'verification', windowSeconds: 86_400, limit: limits.perAddressDay, adding: 1, address },
    (n) => `this address already received ${n} verification emails in the last 24 hours (at most ${limits.perAddressDay})`, 'email');
  if (!row) {
    row = (await c.query<TestAddress>(`INSERT INTO test_addresses (tenant_id, address, address_key) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [tenantId, address.trim(), addressKey(address)])).rows[0];
  }
  const expiresAt = new Date(Date.now() + VERIFICATION_TTL_DAYS * 86_400_000).toISOString();
  const { message } = await enqueueMessage(c, {
    tenantId, purpose: `test-address:${row.id}:${row.verificationsSent + 1}`, kind: 'verification', contactId: null,
    recipient: row.address, template: VERIFICATION_TEMPLATE, data: { testAddressId: row.id, expiresAt },
  });
  const updated = (await c.query<TestAddress>(`UPDATE test_addresses SET verifications_sent = verifications_sent + 1, verification_sent_at = now()
    WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [tenantId, row.id])).rows[0];
  return { testAddress: updated, message };
}

/**
 * Test sends: every address must be a verified test address of the tenant that no suppression names
 * (422 not_test_address, test_address_unverified or address_suppressed, field emails[i]).
 */
export async function assertTestAddresses(c: Queryable, tenantId: string, emails: readonly string[]): Promise<void> {
  for (const [i, email] of emails.entries()) {
    const state = await testAddressState(c, tenantId, email);
    const field = `emails[${i}]`;
    if (!state) throw new DomainError('not_test_address', `${email} is not one of the tenant's test addresses (POST /api/test-addresses adds it)`, field);
    if (state !== 'verified') {
      throw new DomainError('test_address_unverified', `${email} has not confirmed the link in its verification email yet: it gets no test sends until it does`, field);
    }
    const s = await suppressionsFor(c, tenantId, email);
    if (s.all || s.marketing) throw new DomainError('address_suppressed', `${email} is on the suppression list: it gets no test sends`, field);
  }
}

/**
 * Test sends: the tenant's test sends of the last hour plus `emails.length` more must stay within
 * `perHour` (429 rate_limited, field emails). Call in the transaction that queues them: it holds the
 * tenant's test-send lock until commit, so concurrent requests (any process) count each other.
 */
export async function assertTestSendBudget(c: Queryable, tenantId: string, emails: readonly string[], perHour: number): Promise<void> {
  await lockTenant(c, tenantId, 'test');
  await assertUnderLimit(c, { tenantId, kind: 'test', windowSeconds: 3600, limit: perHour, adding: emails.length },
    (n) => `${n} test sends in the last hour; at most ${perHour} per hour`, 'emails');
}

// ---- the verification link ----------------------------------------------------------------------

/** What a verification mail's row carries (messages.data). */
export interface VerificationData { testAddressId: string; expiresAt: string }

export function readVerificationData(data: Record<string, unknown>): VerificationData | null {
  const { testAddressId, expiresAt } = data;
  return typeof testAddressId === 'string' && isUuid(testAddressId) && typeof expiresAt === 'string' ? { testAddressId, expiresAt } : null;
}

/**
 * What a valid verification link says: the tenant and the mail it came in; the test address row only
 * in links of the JSON format (mailed before issue 20), else the mail's data names it.
 */
export interface VerificationClaim { tenantId: string; testAddressId: string | null; messageId: string; useId: string }

/** The link's token (compact: tenant and message): signed at render time (never stored), expiring when the row's data says; every render of one row gives the same link. */
export function verificationToken(keys: TokenKeys, m: Pick<LedgerMessage, 'id' | 'tenantId'>, d: VerificationData): string {
  return signToken(keys, 'test_address', m.tenantId, { m: m.id }, { ttlSeconds: 0, now: Math.floor(Date.parse(d.expiresAt) / 1000) });
}

export function verificationUrl(publicUrl: string, token: string): string {
  return `${publicUrl}/t/${token}`;
}

/** The single-use key of a link (token_uses): one per verification mail. */
function useIdOf(tenantId: string, messageId: string): string {
  return createHash('sha256').update(`test_address:${tenantId}:${messageId}`).digest('hex');
}

/** Verifies a link's token without a look-up. */
export function readVerificationToken(keys: TokenKeys, token: unknown): { ok: true; claim: VerificationClaim } | { ok: false; error: 'invalid' | 'expired' } {
  const r = verifyToken(keys, token, 'test_address');
  if (!r.ok) return { ok: false, error: r.error === 'expired' ? 'expired' : 'invalid' };
  const { t, s } = r.payload;
  const testAddressId = s.a ?? null;
  if (!isUuid(t) || (testAddressId !== null && !isUuid(testAddressId)) || !isUuid(s.m ?? '')) return { ok: false, error: 'invalid' };
  return { ok: true, claim: { tenantId: t, testAddressId, messageId: s.m, useId: useIdOf(t, s.m) } };
}

/** What a link would do now. 'gone': the row was deleted (or erased), the mail never went out, or the address is suppressed. */
export type VerificationPlan = { ok: true; testAddress: TestAddress } | { ok: false; reason: 'gone' | 'used' };

/** Reads only: what the link would confirm. A link counts only if its mail was handed to SMTP (a capability of the mailbox). */
export async function planVerification(c: Queryable, claim: VerificationClaim, forUpdate = false): Promise<VerificationPlan> {
  const m = await c.query<{ data: Record<string, unknown> }>(`SELECT data FROM messages
    WHERE tenant_id = $1 AND id = $2 AND kind = 'verification' AND status NOT IN ('queued', 'failed', 'suppressed', 'cancelled')`, [claim.tenantId, claim.messageId]);
  const named = readVerificationData(m.rows[0]?.data ?? {})?.testAddressId;
  if (!named || (claim.testAddressId !== null && claim.testAddressId !== named)) return { ok: false, reason: 'gone' };
  const row = await findTestAddress(c, claim.tenantId, named, forUpdate);
  if (!row) return { ok: false, reason: 'gone' };
  const s = await suppressionsFor(c, claim.tenantId, row.address);
  if (s.all || s.marketing) return { ok: false, reason: 'gone' };
  if (await isUsed(c, claim.useId)) return { ok: false, reason: 'used' };
  return { ok: true, testAddress: row };
}

/** Uses the link (POST): claims it once, then marks the address verified (if it was not already). */
export async function confirmVerification(c: Queryable, claim: VerificationClaim): Promise<VerificationPlan> {
  const planned = await planVerification(c, claim, true);
  if (!planned.ok) return planned;
  if (!(await claimUse(c, claim.tenantId, claim.useId, 'test_address'))) return { ok: false, reason: 'used' };
  const r = await c.query<TestAddress>(`UPDATE test_addresses SET state = 'verified', verified_at = coalesce(verified_at, now())
    WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [claim.tenantId, planned.testAddress.id]);
  return { ok: true, testAddress: r.rows[0] };
}
