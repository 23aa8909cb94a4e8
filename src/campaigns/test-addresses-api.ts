// HTTP API for test addresses (scope campaigns): add one (and mail it its verification link), list
// them with their state, delete one. The rules are in test-addresses.ts; this file validates and
// opens the tenant transaction.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { notFound, type Api } from '../platform/http.js';
import { email } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { deleteTestAddress, listTestAddresses, requestVerification, type TestAddress } from './test-addresses.js';

const addBody = z.strictObject({ email });

const testAddressView = z.object({
  id,
  address: z.string(),
  state: z.enum(['pending', 'verified']).describe('pending until the link mailed to the address is confirmed; only verified addresses get test sends'),
  verifiedAt: timestamp.nullable(),
  createdAt: timestamp,
  verificationSentAt: timestamp.nullable().describe('when the last verification email was queued'),
});

function viewOf(t: TestAddress) {
  return { id: t.id, address: t.address, state: t.state, verifiedAt: t.verifiedAt, createdAt: t.createdAt, verificationSentAt: t.verificationSentAt };
}

export function testAddressRoutes(api: Api, deps: AppDeps): void {
  const { db, config } = deps;
  const limits = { perTenantHour: config.TEST_ADDRESS_VERIFY_PER_HOUR, perAddressDay: config.TEST_ADDRESS_VERIFY_PER_DAY };

  api.route({
    method: 'post', path: '/api/test-addresses', scope: 'campaigns', body: addBody, response: testAddressView, success: [202, 200], errors: [429],
    summary: 'Add a test address (or ask a pending one again): mails it a single-use confirmation link',
    description: 'The address gets test sends only once the person at it has confirmed through the link (202: the email is queued). '
      + 'An address already verified answers 200 and nothing is mailed. A suppressed address (bounce, complaint, erasure, by hand) is refused '
      + '(422 address_suppressed) and not mailed. Verification emails are limited per tenant per hour and per address per day (429 rate_limited, Retry-After).',
  }, async ({ tenantId, body }) => {
    const r = await db.withTenant(tenantId, (c) => requestVerification(c, tenantId, body.email, limits));
    return { status: r.message ? 202 : 200, body: viewOf(r.testAddress) };
  });

  api.route({ method: 'get', path: '/api/test-addresses', scope: 'campaigns', summary: "The tenant's test addresses and their state (all at once)", response: page(testAddressView) },
    async ({ tenantId }) => ({ body: { items: (await db.withTenant(tenantId, (c) => listTestAddresses(c, tenantId))).map(viewOf), nextCursor: null } }));

  api.route({ method: 'delete', path: '/api/test-addresses/:address', scope: 'campaigns', success: [204],
    summary: 'Remove a test address, named by its address or its id' },
  async ({ tenantId, params }) => {
    const deleted = await db.withTenant(tenantId, (c) => deleteTestAddress(c, tenantId, params.address));
    if (!deleted) throw notFound('test address');
  });
}
