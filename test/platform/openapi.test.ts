// /openapi.json is linted with Redocly's `recommended` ruleset (0 errors, 0 warnings), and real
// responses are checked against the response schemas the document declares for them.
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { useApp } from '../support/app.js';
import { given } from '../support/given.js';
import { invoice } from '../transactional/helpers.js';

const { app, t } = useApp();

interface Operation { responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }> }
type Doc = { paths: Record<string, Record<string, Operation>>; components: { responses: Record<string, { content: Record<string, { schema: unknown }> }>; schemas: Record<string, unknown> } };

/** The documented schema of a response: the operation matching method and concrete path, its status (errors through their $ref). */
function documentedSchema(doc: Doc, method: string, path: string, status: number): unknown {
  const bare = path.split('?')[0];
  const entry = Object.entries(doc.paths).find(([p, ops]) => ops[method.toLowerCase()]
    && new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare));
  if (!entry) throw new Error(`${method} ${path} is not documented`);
  const res = entry[1][method.toLowerCase()].responses[String(status)];
  if (!res) throw new Error(`${method} ${path}: status ${status} is not documented`);
  if (res.$ref) return doc.components.schemas.Error; // every error response is the Error body
  const schema = res.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method} ${path} ${status}: no JSON schema`);
  return schema;
}

function describeProblem(p: NormalizedProblem): string {
  const where = p.location[0]?.pointer ?? '';
  return `${p.severity} ${p.ruleId} ${where}: ${p.message}`;
}

describe('/openapi.json', () => {
  it("passes Redocly's recommended lint with no errors and no warnings", async () => {
    const doc = await (await fetch(`${app.url}/openapi.json`)).json();
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc, null, 2), absoluteRef: 'openapi.json', config });
    const lines = problems.map(describeProblem);
    if (lines.length) console.log(`${lines.length} problems:\n${lines.join('\n')}`);
    expect(problems.filter((p) => p.severity === 'error').map(describeProblem)).toEqual([]);
    expect(problems.filter((p) => p.severity === 'warn').map(describeProblem)).toEqual([]);
  });
});

describe('response schemas', () => {
  it('are declared for every success response, with an operationId and 4xx answers on every operation', async () => {
    const doc = await (await fetch(`${app.url}/openapi.json`)).json() as Doc;
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops) as [string, Operation & { operationId?: string }][]) {
        if (!op.operationId) missing.push(`${method} ${path}: operationId`);
        const statuses = Object.keys(op.responses);
        if (!statuses.some((s) => s.startsWith('4'))) missing.push(`${method} ${path}: 4xx`);
        for (const s of statuses.filter((x) => x.startsWith('2') && x !== '204')) {
          const content = op.responses[s].content ?? {};
          const schema = Object.values(content)[0]?.schema as Record<string, unknown> | undefined;
          if (!schema || Object.keys(schema).length === 0) missing.push(`${method} ${path} ${s}: schema`);
        }
      }
    }
    expect(missing).toEqual([]);
    const notice = (doc.paths['/api/messages'] as unknown as Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, { properties?: Record<string, unknown> }> } }> } }>).post;
    expect(Object.keys(notice.requestBody.content['application/json'].schema.properties.data.properties ?? {})).toEqual(
      expect.arrayContaining(['subject', 'preview', 'body', 'actionUrl', 'actionLabel', 'ticketId']));
  });

  it('describe the real responses (success and error) of a walk through the API', async () => {
    const doc = await (await fetch(`${app.url}/openapi.json`)).json() as Doc;
    const checked: string[] = [];
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await t.api(method, path, body);
      const schema = z.fromJSONSchema(documentedSchema(doc, method, path, r.status) as Parameters<typeof z.fromJSONSchema>[0]);
      const v = schema.safeParse(r.body);
      expect(v.success, `${method} ${path} ${r.status}: ${v.error?.message}\n${JSON.stringify(r.body).slice(0, 500)}`).toBe(true);
      checked.push(`${method} ${path} ${r.status}`);
      return r;
    };
    const g = given(app, t);
    await call('GET', '/api/tenant');
    await call('PATCH', '/api/tenant', { fromName: 'Acme News' });
    const list = (await call('POST', '/api/lists', { name: 'Documented' })).body.id as string;
    await call('GET', '/api/lists');
    await call('GET', `/api/lists/${list}`);
    const consent = { text: 'Yes, send me the newsletter.', source: 'test' };
    const contact = (await call('POST', '/api/contacts', { email: 'doc@example.org', name: 'Doc', newsletter: true, consent })).body.id as string;
    await call('GET', '/api/contacts');
    await call('GET', `/api/contacts/${contact}`);
    await call('GET', `/api/contacts/${contact}/consent`);
    const template = await g.template();
    await call('GET', '/api/templates');
    await call('GET', `/api/templates/${template}`);
    await call('POST', `/api/templates/${template}/preview`, { data: { name: 'Jane' } });
    const campaign = (await call('POST', '/api/campaigns', { name: 'Doc', templateId: template, listIds: [list] })).body.id as string;
    await call('GET', '/api/campaigns');
    await call('GET', `/api/campaigns/${campaign}`);
    await call('POST', `/api/campaigns/${campaign}/pause`);
    await call('POST', `/api/campaigns/${campaign}/cancel`);
    const inv = await call('POST', '/api/invoices', invoice('T-doc', 'doc@example.org'));
    await call('POST', '/api/messages', { kind: 'account', contact: 'doc@example.org', data: { body: 'Hello' } });
    await call('GET', '/api/messages');
    await call('GET', `/api/messages/${inv.body.id}`);
    await call('POST', '/api/suppressions', { address: 'gone@example.org', reason: 'manual' });
    await call('GET', '/api/suppressions');
    await call('DELETE', '/api/suppressions/gone@example.org', { reason: 'asked to be contacted again' });
    await call('GET', '/api/bounces');
    await call('POST', `/api/contacts/${contact}/unsubscribe`, {});
    await call('GET', `/api/contacts/${contact}/export`);
    await call('DELETE', `/api/contacts/${contact}`);
    const made = (await call('POST', '/api/keys', { scopes: ['subscribers'], name: 'documented', expiresInDays: 1 })).body.id as string;
    const keys = (await call('GET', '/api/keys')).body.items as { id: string; prefix: string }[];
    await call('GET', `/api/keys/${made}`);
    // The tenant's only admin key: 409 last_admin_key (the Error body).
    await call('DELETE', `/api/keys/${keys.find((k) => k.prefix === t.key.slice(0, 7))?.id}`);
    // Errors are the documented Error body.
    await call('GET', `/api/contacts/${contact}`);
    await call('POST', '/api/lists', { name: '' });
    expect(checked.length).toBeGreaterThanOrEqual(30);
    // And the check has teeth: a list item of the wrong shape is refused by the documented schema.
    const lists = z.fromJSONSchema(documentedSchema(doc, 'GET', '/api/lists', 200) as Parameters<typeof z.fromJSONSchema>[0]);
    expect(lists.safeParse({ items: [{ id: 1, name: 'x' }], nextCursor: null }).success).toBe(false);
    expect(lists.safeParse({ lists: [] }).success).toBe(false);
  });
});
