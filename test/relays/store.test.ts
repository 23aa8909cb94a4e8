// The shared relay state in PostgreSQL (src/relays/store.ts) as the application role uses it: a
// relay's failures and pause, its per-second reservations, a domain's back-off and its levels.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  domainThrottles, loadSharedState, recordRelayFailure, recordRelaySuccess, relayHealth, reserveRelaySends, throttleDomain,
} from '../../src/relays/store.js';
import { useApp } from '../support/app.js';
import { query } from '../faults/helpers.js';

const { app } = useApp({ smtp: false, roles: { worker: false, inbound: false }, tenant: false });
const pool = () => app.pg.deps.db.pool;
const unique = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;

describe('relay health', () => {
  it('pauses after N failures in a row, again at the next failure, and a success clears it', async () => {
    const r = unique('relay');
    expect((await recordRelayFailure(pool(), r, 'refused', 3, 30)).pausedForMs).toBe(0);
    expect((await recordRelayFailure(pool(), r, 'refused', 3, 30)).pausedForMs).toBe(0);
    const third = await recordRelayFailure(pool(), r, 'refused', 3, 30);
    expect(third.failures).toBe(3);
    expect(third.pausedForMs).toBeGreaterThan(29_000);
    expect((await loadSharedState(pool())).relays.find((h) => h.relay === r)).toMatchObject({ failures: 3 });
    await recordRelaySuccess(pool(), r);
    expect((await relayHealth(pool())).find((h) => h.relay === r)).toEqual({ relay: r, failures: 0, pausedForMs: 0 });
    expect((await loadSharedState(pool())).relays.find((h) => h.relay === r)).toBeUndefined();
  });
});

describe('relay rate windows', () => {
  it('grants at most the limit per second across callers', async () => {
    const r = unique('rated');
    const grants = await Promise.all(Array.from({ length: 8 }, () => reserveRelaySends(pool(), r, 5, 12)));
    const [row] = await query<{ n: number }>(app.db.url, 'SELECT count(DISTINCT window_start)::int AS n FROM relay_rate_windows WHERE relay = $1', [r]);
    if (row.n === 1) expect(grants.reduce((a, g) => a + g.granted, 0)).toBe(12); // all in one second (the usual case)
    for (const g of grants) expect(g.windowLeftMs).toBeLessThanOrEqual(1000);
  });
});

describe('domain throttles', () => {
  it('a 421 starts a back-off; another during it changes nothing; after it, the next level doubles; a quiet max resets', async () => {
    const d = `${unique('d')}.example`;
    const first = await throttleDomain(pool(), d, '421 4.7.0 slow down', 0.4, 1);
    expect(first.level).toBe(1);
    expect(first.forMs).toBeGreaterThan(300);
    expect(first.forMs).toBeLessThanOrEqual(400);
    const during = await throttleDomain(pool(), d, '421 again', 0.4, 1);
    expect(during.level).toBe(1);
    expect(during.forMs).toBeLessThanOrEqual(first.forMs);
    expect((await domainThrottles(pool())).map((t) => t.domain)).toContain(d);
    await new Promise((r) => setTimeout(r, 450));
    const second = await throttleDomain(pool(), d, '421 4.7.0 slow down', 0.4, 1);
    expect(second.level).toBe(2);
    expect(second.forMs).toBeGreaterThan(700); // 0.8 s
    await new Promise((r) => setTimeout(r, 2000)); // ended more than the max (1 s) ago
    expect((await throttleDomain(pool(), d, '421', 0.4, 1)).level).toBe(1);
  });
});
