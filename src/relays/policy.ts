// Relays and destination domains, the pure part (no I/O): SMTP_URLS parsed into relay specs, the
// per-domain concurrency overrides, the weighted pick among healthy relays, which replies put a
// destination domain in back-off (its length is computed where it is stored: relays/store.ts).

/** One relay of SMTP_URLS: its URL as nodemailer sees it (our query parameters stripped) and its limits. */
export interface RelaySpec {
  /** Its name in logs and in PostgreSQL (relay_health, relay_rate_windows): `name=`, else host:port. */
  name: string;
  /** smtp:// or smtps:// URL without weight, rate, connections and name (tls_reject_unauthorized stays). */
  url: string;
  /** Share of the mail among healthy relays, relative to the others' (1 to 1000; default 1). */
  weight: number;
  /** Messages per second handed to it, counted across every process; 0: no limit (default). */
  rate: number;
  /** SMTP connections per process (its pool size); default SMTP_POOL_SIZE. */
  connections: number;
}

const OWN_PARAMS = ['weight', 'rate', 'connections', 'name'] as const;

/** A positive integer parameter within [min, max], or the default when absent; throws naming it otherwise. */
function intParam(u: URL, key: string, min: number, max: number, fallback: number): number {
  const raw = u.searchParams.get(key);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${key}=${raw} must be a whole number from ${min} to ${max}`);
  return n;
}

/**
 * Parses SMTP_URLS: a comma list of smtp:// or smtps:// URLs, each with optional `weight` (1–1000,
 * default 1), `rate` (messages per second across every process, 0–100000, default 0 = none),
 * `connections` (per process, 1–100, default `defaultConnections`) and `name` (default host:port).
 * Throws an Error naming the entry at fault (its position, never its password). Names are unique.
 */
export function parseRelayUrls(list: string, defaultConnections: number): RelaySpec[] {
  const entries = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new Error('must name at least one relay');
  const specs = entries.map((entry, i) => {
    let u: URL;
    try { u = new URL(entry); } catch { throw new Error(`entry ${i + 1} is not a URL`); }
    if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`entry ${i + 1} must be smtp:// or smtps://`);
    try {
      const spec: RelaySpec = {
        name: u.searchParams.get('name') ?? `${u.hostname}:${u.port || (u.protocol === 'smtps:' ? 465 : 25)}`,
        url: '', weight: intParam(u, 'weight', 1, 1000, 1), rate: intParam(u, 'rate', 0, 100_000, 0),
        connections: intParam(u, 'connections', 1, 100, defaultConnections),
      };
      if (!/^[\w.:@-]{1,100}$/.test(spec.name)) throw new Error('name must be 1–100 letters, digits or ._:@-');
      for (const k of OWN_PARAMS) u.searchParams.delete(k);
      spec.url = u.toString();
      return spec;
    } catch (err) { throw new Error(`entry ${i + 1}: ${(err as Error).message}`); }
  });
  const names = specs.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`relay name ${dup} is given twice (set name= on one of them)`);
  return specs;
}

/** Parses DOMAIN_CONCURRENCY_OVERRIDES: `gmail.com=20,outlook.com=5` into lower-case domain → limit (1–10000). Throws naming the entry. */
export function parseDomainLimits(list: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of (list ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const m = /^([a-z0-9.-]+\.[a-z0-9-]+)=(\d{1,5})$/i.exec(entry);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 10_000) throw new Error(`entry ${JSON.stringify(entry)} must be domain=limit (1 to 10000)`);
    out.set(m[1].toLowerCase(), Number(m[2]));
  }
  return out;
}

/**
 * Picks a relay by weight among those not paused and not yet tried for this message; null when none
 * is left. `random` is a draw in [0, 1).
 */
export function pickRelay<R extends Pick<RelaySpec, 'name' | 'weight'>>(relays: readonly R[], skip: (name: string) => boolean, random: number): R | null {
  const open = relays.filter((r) => !skip(r.name));
  const total = open.reduce((a, r) => a + r.weight, 0);
  let x = random * total;
  for (const r of open) { x -= r.weight; if (x < 0) return r; }
  return open[open.length - 1] ?? null;
}

/**
 * Whether a temporary reply to a recipient (not a failure of the session) says the destination
 * domain is throttling: a 421, or an enhanced status 4.7.x (RFC 3463: security or policy status,
 * e.g. 4.7.0 "try again later", 4.7.28 "rate limited").
 */
export function isDomainThrottle(response: string): boolean {
  return /^\s*421\b/.test(response) || /^\s*4\d\d[ -]4\.7\.\d{1,3}\b/.test(response);
}

/** The domain of the message's envelope recipient (lower case), or null when there is none. */
export function recipientDomain(to: unknown): string | null {
  const first = Array.isArray(to) ? to[0] : to;
  const address = typeof first === 'string' ? first : (first as { address?: unknown } | null)?.address;
  if (typeof address !== 'string') return null;
  const at = address.lastIndexOf('@');
  return at < 0 ? null : address.slice(at + 1).replace(/>\s*$/, '').trim().toLowerCase() || null;
}
