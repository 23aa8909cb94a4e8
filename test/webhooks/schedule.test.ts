// The retry schedule and the endpoint checks (pure).
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, isDelivered, parseSchedule, retryDelayMs } from '../../src/webhooks/schedule.js';
import { checkEndpointUrl, checkEventTypes, newSecret } from '../../src/webhooks/urls.js';
import { loadConfig } from '../../src/config.js';

describe('retry schedule', () => {
  it('spans about three days by default', () => {
    const s = parseSchedule(DEFAULT_RETRY_SCHEDULE);
    expect(s[0]).toBe(5000);
    const hours = s.reduce((a, b) => a + b, 0) / 3_600_000;
    expect(hours).toBeGreaterThan(70);
    expect(hours).toBeLessThan(80);
  });

  it('waits the step for each failed attempt, with up to 10 % jitter, then gives up', () => {
    const s = parseSchedule('100ms,2s');
    expect(retryDelayMs(s, 1, 0)).toBe(100);
    expect(retryDelayMs(s, 1, 0.999)).toBe(110);
    expect(retryDelayMs(s, 2, 0.5)).toBe(2100);
    expect(retryDelayMs(s, 3, 0)).toBeNull();
  });

  it.each(['', '5', '5x', '5s,,1m', '8d', Array.from({ length: 51 }, () => '1s').join(',')])('refuses %j', (bad) => {
    expect(() => parseSchedule(bad)).toThrow();
  });

  it('is checked at start, naming the variable', () => {
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: '5 minutes', DATA_DIR: '/tmp' })).toThrow(/^invalid configuration: WEBHOOK_RETRY_SCHEDULE must be/);
  });

  it('counts only 2xx as delivered', () => {
    expect([200, 204, 299].map(isDelivered)).toEqual([true, true, true]);
    expect([null, 199, 301, 404, 500].map(isDelivered)).toEqual([false, false, false, false, false]);
  });
});

describe('endpoint checks', () => {
  it('takes https, and http only when private targets are allowed', () => {
    expect(checkEndpointUrl('https://hooks.example.org/x?y=1', false)).toBe('https://hooks.example.org/x?y=1');
    expect(() => checkEndpointUrl('http://hooks.example.org/x', false)).toThrow(/url: must be an https URL/);
    expect(checkEndpointUrl('http://127.0.0.1:9/x', true)).toBe('http://127.0.0.1:9/x');
  });

  it.each(['https://127.0.0.1/', 'https://[::1]/', 'https://192.168.1.1/', 'https://[fe80::1]/', 'https://100.64.0.1/', 'https://[fd00::1]/'])('refuses the literal %s', (u) => {
    expect(() => checkEndpointUrl(u, false)).toThrow(/not public/);
  });

  it('accepts a public literal address', () => {
    expect(checkEndpointUrl('https://93.184.216.34/hook', false)).toBe('https://93.184.216.34/hook');
  });

  it('normalises types and names the faulty entry', () => {
    expect(checkEventTypes(['message.sent', 'message.queued', 'message.sent'])).toEqual(['message.queued', 'message.sent']);
    expect(checkEventTypes(['*'])).toEqual(['*']);
    expect(() => checkEventTypes(['message.sent', 'nope'])).toThrow(expect.objectContaining({ field: 'types[1]' }));
    expect(() => checkEventTypes([])).toThrow(expect.objectContaining({ field: 'types' }));
  });

  it('makes Standard Webhooks secrets of 32 random bytes', () => {
    const s = newSecret();
    expect(Buffer.from(s.replace(/^whsec_/, ''), 'base64')).toHaveLength(32);
    expect(newSecret()).not.toBe(s);
  });
});
