// Operations: health, readiness, metrics, OpenAPI, JSON errors for bad input.
import { describe, expect, it } from 'vitest';
import { useApp } from '../support/app.js';
import { loadConfig, ConfigError } from '../../src/config.js';

const { app, t } = useApp();

describe('operations endpoints', () => {
  it('answers healthz, readyz and metrics', async () => {
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toContain('postgate_process_cpu_user_seconds_total');
  });

  it('observes HTTP request durations by route pattern, not by the ids in the path', async () => {
    expect((await t.api('GET', '/api/contacts/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    expect(metrics).toMatch(/postgate_http_request_seconds_count\{method="GET",route="\/api\/contacts\/:id",status="404"\} [1-9]/);
    expect(metrics).not.toContain('route="/api/contacts/00000000');
  });

  it('publishes an OpenAPI document built from the request schemas', async () => {
    const doc = await (await fetch(`${app.url}/openapi.json`)).json();
    expect(doc.openapi).toBe('3.1.0');
    const patch = doc.paths['/api/tenant'].patch;
    expect(patch.requestBody.content['application/json'].schema.properties).toHaveProperty('replyTo');
  });

  it('turns malformed JSON, oversized bodies and unknown endpoints into JSON errors', async () => {
    const bad = await t.api('PATCH', '/api/tenant', '{"name": ');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('malformed_json');
    const huge = await t.api('PATCH', '/api/tenant', { name: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('body_too_large');
    const missing = await t.api('GET', '/api/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
  });

  it('refuses card numbers anywhere in a request before anything runs', async () => {
    const res = await t.api('PATCH', '/api/tenant', { name: 'Card 4111 1111 1111 1111' });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: 'card_data_rejected', field: 'body.name' });
    expect((await t.api('GET', '/api/tenant')).body.name).toBe('Acme');
  });
});

describe('configuration', () => {
  it('gives a one-line error naming the variable at fault', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    try { loadConfig({ PORT: 'eighty' }); } catch (e) {
      expect((e as Error).message).toMatch(/^invalid configuration: PORT /);
      expect((e as Error).message).not.toContain('\n');
    }
    expect(() => loadConfig({ SMTP_URL: 'http://x' })).toThrow(/SMTP_URL/);
    expect(() => loadConfig({ TOKEN_KEYS: 'k1:short' })).toThrow(/TOKEN_KEYS/);
    expect(() => loadConfig({ TOKEN_KEYS: 'k1:short' })).not.toThrow(/short/);
  });
});
