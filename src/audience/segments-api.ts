// Segments over the API (scope subscribers): saved filters (create, list, read, change, delete) and
// the live count a filter builder needs, of a saved segment or of a filter not yet saved. The filter
// language and its limits are in segment-filter.ts; a fault is 422 invalid_segment naming its JSON path.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { notFound, type Api } from '../platform/http.js';
import { rateLimited } from '../domain-error.js';
import { headerText } from '../platform/schemas.js';
import { id, page, timestamp } from '../platform/responses.js';
import { parseSegmentFilter } from './segment-filter.js';
import { ATTRIBUTE_SAMPLE, attributeNames, assertSegmentLists, countSegment, createSegment, deleteSegment, getSegment, listSegments, updateSegment, type Segment } from './segments.js';

const FILTER_HELP = 'A segment filter (README "Segments"): {"all"|"any": [conditions]}, {"not": condition}, '
  + '{"attribute": name, "op": "eq|ne|in|contains|gt|gte|lt|lte|between|exists", "value": …}, {"status": "pending|active|suppressed"}, '
  + '{"list": listId, "subscription": "subscribed|unconfirmed|unsubscribed"}, {"field": "createdAt|confirmedAt", "op": "before|after|between", "value": ISO 8601}. '
  + 'At most 5 groups deep, 50 conditions, 1,000 values in "in", strings of 1 KiB. A list must exist and not be deleted (a list deleted later matches no one). '
  + 'A fault is 422 invalid_segment naming its path (e.g. filter.all[2].value).';

const COUNT_HELP = 'A count runs for at most SEGMENT_COUNT_TIMEOUT_MS (503 segment_count_timeout); at most 2 counts of a tenant '
  + '(4 in all) run at once per process (429 rate_limited, Retry-After).';

/** Validated in the handler (parseSegmentFilter), so a fault is invalid_segment with its exact path. */
const filterInput = z.unknown().describe(FILTER_HELP);
const name = headerText(200).trim().min(1).describe('Unique per tenant (case-insensitive, trimmed)');

const newSegment = z.strictObject({ name, filter: filterInput });
const segmentPatch = z.strictObject({ name: name.optional(), filter: filterInput.optional() });
const countBody = z.strictObject({ filter: filterInput });

const segmentView = z.object({
  id, name: z.string(), filter: z.record(z.string(), z.unknown()).describe('The filter as stored (dates normalised to UTC)'),
  createdAt: timestamp, updatedAt: timestamp,
});
const attributeView = z.object({
  name: z.string(), types: z.array(z.enum(['string', 'number', 'boolean', 'array', 'object'])).describe('The JSON types its values have'),
});
const countView = z.object({ count: z.number().int().min(0).describe('Contacts the filter matches now (erased contacts never)') });

/**
 * Counts running at once in this process, in all and per tenant: a count may hold a pooled connection
 * up to SEGMENT_COUNT_TIMEOUT_MS, so a burst of heavy counts must not take the pool from everything
 * else. Beyond: 429 rate_limited (Retry-After 1).
 */
export const MAX_COUNTS = { all: 4, perTenant: 2 } as const;

class CountGate {
  private all = 0;
  private readonly byTenant = new Map<string, number>();

  /** Runs `fn` as one of the counts allowed at once, or throws rate_limited. */
  async run<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const mine = this.byTenant.get(tenantId) ?? 0;
    if (this.all >= MAX_COUNTS.all || mine >= MAX_COUNTS.perTenant) throw rateLimited('too many segment counts at once: retry in a moment', null, 1);
    this.all += 1;
    this.byTenant.set(tenantId, mine + 1);
    try {
      return await fn();
    } finally {
      this.all -= 1;
      const left = (this.byTenant.get(tenantId) ?? 1) - 1;
      if (left > 0) this.byTenant.set(tenantId, left); else this.byTenant.delete(tenantId);
    }
  }
}

function viewOf(s: Segment) {
  return { id: s.id, name: s.name, filter: s.filter, createdAt: s.createdAt, updatedAt: s.updatedAt };
}

/** Registers /api/segments: CRUD and the live counts (a count runs under the SEGMENT_COUNT_TIMEOUT_MS setting: 503 segment_count_timeout). */
export function segmentRoutes(api: Api, deps: AppDeps): void {
  const { db } = deps;
  const timeoutMs = deps.config.SEGMENT_COUNT_TIMEOUT_MS;
  const gate = new CountGate();
  // Before /api/segments/:id, which would otherwise take "attributes" as an id.
  api.route({ method: 'get', path: '/api/segments/attributes', scope: 'subscribers', response: page(attributeView),
    summary: 'Attribute names in use, with the JSON types of their values: what a filter builder offers',
    description: `Read from the newest ${ATTRIBUTE_SAMPLE} contacts (a sample: a name only older contacts have is not listed, and a filter may still use it); by name, at most 500; nextCursor is null.` },
  async ({ tenantId }) => ({ body: { items: await db.withTenant(tenantId, (c) => attributeNames(c)), nextCursor: null } }));

  api.route({ method: 'get', path: '/api/segments', scope: 'subscribers', summary: "The tenant's segments, by name (all of them: nextCursor is null)", response: page(segmentView) },
    async ({ tenantId }) => ({ body: { items: (await db.withTenant(tenantId, (c) => listSegments(c))).map(viewOf), nextCursor: null } }));

  api.route({ method: 'get', path: '/api/segments/:id', scope: 'subscribers', summary: 'One segment', response: segmentView }, async ({ tenantId, params }) => {
    const s = await db.withTenant(tenantId, (c) => getSegment(c, params.id));
    if (!s) throw notFound('segment');
    return { body: viewOf(s) };
  });

  api.route({ method: 'post', path: '/api/segments', scope: 'subscribers', body: newSegment, response: segmentView, success: [201], errors: [409],
    summary: 'Save a segment: a named, validated filter over contacts', description: `${FILTER_HELP} A name the tenant already uses is 409 segment_name_taken.` },
  async ({ tenantId, body }) => {
    const filter = parseSegmentFilter(body.filter, 'filter');
    return { status: 201, body: viewOf(await db.withTenant(tenantId, (c) => createSegment(c, tenantId, { name: body.name, filter }))) };
  });

  api.route({ method: 'patch', path: '/api/segments/:id', scope: 'subscribers', body: segmentPatch, response: segmentView, errors: [409],
    summary: 'Rename a segment or replace its filter', description: 'Campaigns narrowed by the segment use the new filter when they next materialise their audience (at start).' },
  async ({ tenantId, params, body }) => {
    const filter = body.filter === undefined ? undefined : parseSegmentFilter(body.filter, 'filter');
    const s = await db.withTenant(tenantId, (c) => updateSegment(c, params.id, { name: body.name, filter }));
    if (!s) throw notFound('segment');
    return { body: viewOf(s) };
  });

  api.route({ method: 'delete', path: '/api/segments/:id', scope: 'subscribers', success: [204], errors: [409],
    summary: 'Delete a segment', description: 'A segment a campaign uses (any status) cannot be deleted: 409 segment_in_use.' },
  async ({ tenantId, params }) => {
    if (!(await db.withTenant(tenantId, (c) => deleteSegment(c, params.id)))) throw notFound('segment');
  });

  api.route({ method: 'post', path: '/api/segments/:id/count', scope: 'subscribers', readOnly: true, response: countView, errors: [429, 503],
    summary: 'Count the contacts a saved segment matches now', description: COUNT_HELP },
  async ({ tenantId, params }) => ({
    body: {
      count: await gate.run(tenantId, () => db.withTenant(tenantId, async (c) => {
        const s = await getSegment(c, params.id);
        if (!s) throw notFound('segment');
        return countSegment(c, s.filter, timeoutMs);
      })),
    },
  }));

  api.route({ method: 'post', path: '/api/segments/count', scope: 'subscribers', readOnly: true, body: countBody, response: countView, errors: [429, 503],
    summary: 'Count the contacts a filter (not saved) matches now: the live count of a filter builder', description: `${FILTER_HELP} ${COUNT_HELP}` },
  async ({ tenantId, body }) => {
    const filter = parseSegmentFilter(body.filter, 'filter');
    return { body: { count: await gate.run(tenantId, () => db.withTenant(tenantId, async (c) => {
      await assertSegmentLists(c, filter);
      return countSegment(c, filter, timeoutMs);
    })) } };
  });
}
