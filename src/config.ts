// Configuration: the environment over config/default.json, validated once with zod.
// Only the composition root (src/main.ts) reads the environment; it passes it here.
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isDomainName } from './policy/domains.js';
import { parseSchedule } from './webhooks/schedule.js';
import { parseDomainLimits, parseRelayUrls } from './relays/policy.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const rate = z.coerce.number().min(0).max(1);
const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try { return protocols.includes(new URL(v).protocol); } catch { return false; }
  }, `must be a URL (${protocols.join(' or ')})`);

/** A yes/no setting: true/false or 1/0 in the environment, a boolean in overrides. */
const flag = z.preprocess((v) => (typeof v === 'boolean' ? String(v) : v),
  z.enum(['true', 'false', '1', '0'], 'must be true, false, 1 or 0').transform((v) => v === 'true' || v === '1'));
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;
/** A domain name as sending domains are judged (policy/domains.ts: two labels or more, no numeric TLD), in any case. */
const domainName = (v: string) => isDomainName(v.toLowerCase());
/** A URL's host must not end with a dot: links, the default tenant's addresses and domain checks take it as written. */
const hostWithoutTrailingDot = (v: string) => { try { return !new URL(v).hostname.endsWith('.'); } catch { return true; } };

/** One DNS_SERVERS entry: an IPv4 address with an optional :port, an IPv6 address, or [IPv6]:port. */
function dnsServerOk(s: string): boolean {
  const m = /^(?:\[([^\]]+)\]|(\d{1,3}(?:\.\d{1,3}){3}))(?::(\d{1,5}))?$/.exec(s);
  if (!m) return isIP(s) === 6;
  const port = m[3] === undefined ? 53 : Number(m[3]);
  return isIP(m[1] ?? m[2]) !== 0 && port >= 1 && port <= 65535;
}

export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  /** The migration (owner) role, when DATABASE_URL is the runtime login (split mode; README "External PostgreSQL"). */
  DATABASE_OWNER_URL: url(['postgres:', 'postgresql:']).optional(),
  /** The runtime login straight to PostgreSQL, for session connections (LISTEN, pg-boss) when DATABASE_URL goes through PgBouncer; unset: DATABASE_URL. */
  DATABASE_DIRECT_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1),
  PORT: int(0, 65535),
  PUBLIC_URL: url(['http:', 'https:']).refine(hostWithoutTrailingDot, 'must not end its host name with a dot').optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  /** Several relays (src/relays): comma list of smtp(s):// URLs with ?weight=&rate=&connections=&name=; instead of SMTP_URL. */
  SMTP_URLS: z.string().superRefine((v, ctx) => {
    try { parseRelayUrls(v, 1); } catch (err) { ctx.addIssue({ code: 'custom', message: `must be a comma list of smtp:// or smtps:// URLs: ${(err as Error).message}` }); }
  }).optional(),
  RELAY_PAUSE_AFTER_FAILURES: int(1, 1000),
  RELAY_COOLDOWN_SECONDS: int(1, 86_400),
  RELAY_STATE_REFRESH_MS: int(50, 60_000),
  DOMAIN_CONCURRENCY: int(1, 10_000),
  DOMAIN_CONCURRENCY_OVERRIDES: z.string().superRefine((v, ctx) => {
    try { parseDomainLimits(v); } catch (err) { ctx.addIssue({ code: 'custom', message: `must be a comma list of domain=limit: ${(err as Error).message}` }); }
  }).optional(),
  DOMAIN_BACKOFF_BASE_SECONDS: z.coerce.number().min(0.05).max(86_400),
  DOMAIN_BACKOFF_MAX_SECONDS: z.coerce.number().min(0.05).max(7 * 86_400),
  /**
   * Which proxies in front of Postgate are believed about the client's address (X-Forwarded-For), as
   * express's `trust proxy`: `loopback` (default), a comma list of addresses and CIDR subnets (names
   * loopback, linklocal, uniquelocal allowed), a number of hops, or `none`. The client address limits
   * staff sign-ins and the public forms.
   */
  TRUST_PROXY: z.string().trim().regex(/^(none|\d{1,2}|[0-9A-Za-z.:/]+(\s*,\s*[0-9A-Za-z.:/]+)*)$/, 'must be none, a number of hops, or a comma list of addresses, subnets, loopback, linklocal, uniquelocal'),
  HOST: z.string().refine((v) => isIP(v) !== 0 || (HOSTNAME.test(v) && !/^[\d.]+$/.test(v)), 'must be an IP address or a host name').optional(),
  ALLOW_INSECURE_LINKS: flag,
  SMTP_REQUIRE_TLS: flag,
  SMTP_TLS_CA: z.string().min(1).optional(),
  INBOUND_TLS_CERT: z.string().min(1).optional(),
  INBOUND_TLS_KEY: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  TOKEN_KEYS: z.string().regex(/^[A-Za-z0-9_-]{1,16}:[^,]{16,}(,[A-Za-z0-9_-]{1,16}:[^,]{16,})*$/,
    'must be kid:secret[,kid:secret…] with secrets of 16+ characters, current key first').optional(),
  BOUNCE_DOMAIN: z.string().refine(domainName, 'must be a domain name'),
  DNS_SERVERS: z.string().refine((v) => v.split(',').every((s) => dnsServerOk(s.trim())),
    'must be a comma list of ip[:port] (an IPv6 address with a port as [ip]:port)').optional(),
  SPF_INCLUDE: z.string().regex(/^(include:|a:|mx:|ip4:|ip6:|exists:)[^\s"]+$|^(a|mx)$/i, 'must be one SPF mechanism, e.g. include:_spf.relay.example').optional(),
  BOUNCE_SUBDOMAIN: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i, 'must be a DNS label'),
  BOUNCE_MX_HOST: z.string().refine(domainName, 'must be a host name').optional(),
  DKIM_RETIRE_GRACE_DAYS: int(0, 365),
  INBOUND_SMTP_PORT: int(0, 65535),
  SMTP_POOL_SIZE: int(1, 100),
  SEND_CONCURRENCY: int(1, 256),
  SEND_RATE_PER_SECOND: int(1, 100_000),
  ACTIVATION_TTL_DAYS: int(1, 365),
  ACTIVATION_CAP_PER_DAY: int(1, 100),
  ACTIVATION_TENANT_PER_HOUR: int(1, 10_000_000),
  FORM_PER_IP_PER_HOUR: int(1, 100_000),
  FORM_PER_IP_PER_DAY: int(1, 1_000_000),
  /** Self-service data rights (preference page): lifetime of the mailed export and erasure links, and requests per contact per rolling 24 hours. */
  DATA_RIGHTS_LINK_HOURS: int(1, 720),
  DATA_RIGHTS_REQUESTS_PER_DAY: int(1, 100),
  /** Staff console (issue 19): session idle and absolute lifetimes, sign-in failures before a lock-out and its length, set-password link lifetime, sign-ins per client address per 15 minutes. */
  STAFF_SESSION_IDLE_MINUTES: int(1, 24 * 60),
  STAFF_SESSION_MAX_HOURS: int(1, 24 * 30),
  STAFF_LOGIN_MAX_FAILURES: int(1, 100),
  STAFF_LOCKOUT_MINUTES: int(1, 24 * 60),
  STAFF_PASSWORD_LINK_HOURS: int(1, 24 * 30),
  STAFF_LOGINS_PER_CLIENT: int(1, 100_000),
  TEST_ADDRESS_VERIFY_PER_HOUR: int(1, 10_000),
  TEST_ADDRESS_VERIFY_PER_DAY: int(1, 100),
  TEST_SENDS_PER_HOUR: int(1, 100_000),
  SEGMENT_COUNT_TIMEOUT_MS: int(100, 600_000),
  IMPORT_MAX_BYTES: int(1024, 16 * 1024 * 1024 * 1024),
  IMPORT_ACTIVATIONS_PER_MINUTE: int(1, 100_000),
  WEBHOOK_ALLOW_PRIVATE: flag,
  WEBHOOK_TIMEOUT_MS: int(100, 60_000),
  WEBHOOK_RETRY_SCHEDULE: z.string().refine((v) => { try { parseSchedule(v); return true; } catch { return false; } },
    'must be a comma list of waits like 5s,30s,2m,1h (units ms, s, m, h, d; 1 to 50 steps, each at most 7d)'),
  WEBHOOK_POLL_MS: int(50, 60_000),
  WEBHOOK_CONCURRENCY: int(1, 256),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(1, 256),
  BODY_RETENTION_DAYS: int(0, 3650),
  BOUNCE_RAW_RETENTION_DAYS: int(0, 3650),
  EVENTS_RETENTION_DAYS: int(1, 3650),
  /** The maintenance sweep's rows per purge statement (each its own transaction; src/retention.ts). */
  RETENTION_BATCH_ROWS: int(100, 100_000),
  /** The longest one maintenance sweep purges before leaving the rest to the next (cron every 15 minutes). */
  RETENTION_BUDGET_SECONDS: int(1, 840),
  SOFT_BOUNCE_LIMIT: int(1, 100),
  SOFT_BOUNCE_WINDOW_DAYS: int(1, 365),
  COMPLAINT_PAUSE_RATE: rate,
  HARD_BOUNCE_PAUSE_RATE: rate,
  PAUSE_MIN_SENT: int(0, 1_000_000),
  /** Campaign figures: a sent message counts as delivered once sent this many hours ago without a bounce (src/campaigns/stats.ts). */
  STATS_DELIVERED_AFTER_HOURS: z.coerce.number().min(0).max(8760),
  MAX_BODY_BYTES: int(1024, 100 * 1024 * 1024),
  INBOUND_MAX_BYTES: int(1024, 100 * 1024 * 1024),
  INBOUND_CLASSIFY_BUDGET_MS: int(50, 60_000),
  INBOUND_CLASSIFY_THREADS: int(1, 8),
  INBOUND_MAX_CLIENTS: int(1, 100_000),
  INBOUND_MAX_CLIENTS_PER_IP: int(1, 10_000),
  INBOUND_IDLE_TIMEOUT_SECONDS: int(1, 3600),
  INBOUND_REPORTS_PER_TOKEN_HOUR: int(1, 1_000_000),
  SEND_LEASE_SECONDS: int(5, 3600),
  RETRY_BASE_SECONDS: z.coerce.number().min(0.01).max(86_400),
  MAX_ATTEMPTS: int(1, 50),
  ENGAGEMENT_SCANNER_SECONDS: int(0, 3600),
});

export type RawConfig = z.infer<typeof configSchema>;
export interface Config extends Omit<RawConfig, 'PUBLIC_URL' | 'HOST'> {
  PUBLIC_URL: string;
  /** The address HTTP and the inbound SMTP listener bind: HOST, else 127.0.0.1 when nothing is relayed (no SMTP_URL), 0.0.0.0 when it is. */
  HOST: string;
  /** What is insecure in relayed mail's links and envelope, allowed by ALLOW_INSECURE_LINKS (logged at every start); empty otherwise. */
  insecureLinks: InsecureLink[];
}

/** One insecure setting of a relaying install: the variable and what is wrong with it. */
export interface InsecureLink { variable: 'PUBLIC_URL' | 'BOUNCE_DOMAIN'; problem: string }

/** Suffixes that never resolve on the public internet (RFC 6761, RFC 6762, RFC 8375, and the common private ones). */
const LOCAL_SUFFIXES = ['localhost', 'local', 'localdomain', 'internal', 'invalid', 'home.arpa'];

/**
 * True when `name` (a host or domain name, as in a URL's hostname) can be a public DNS name: not an
 * IP literal (v4, v6, bracketed), not a single label, not numeric in its last label, and not under
 * localhost, local, localdomain, internal, invalid or home.arpa. `.test` (RFC 2606) is accepted: the
 * test suite relays to https://postgate.test. PURE.
 */
export function isRealDomain(name: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[') || isIP(host) !== 0) return false;
  const labels = host.split('.');
  if (labels.length < 2 || labels.some((l) => l === '') || /^\d+$/.test(labels[labels.length - 1])) return false;
  return !LOCAL_SUFFIXES.some((s) => host === s || host.endsWith(`.${s}`));
}

/**
 * What would make relayed mail carry links or an envelope that are insecure or unreachable: with
 * SMTP_URL set, PUBLIC_URL (the base of every link in mail; RFC 8058 one-click needs https) must be
 * https on a real host and BOUNCE_DOMAIN (the VERP envelope) a real domain (isRealDomain). Without
 * SMTP_URL nothing leaves the machine, so nothing is insecure. PURE: no I/O.
 */
export function insecureLinks(c: { SMTP_URL?: string; PUBLIC_URL: string; BOUNCE_DOMAIN: string }): InsecureLink[] {
  if (!c.SMTP_URL) return [];
  const out: InsecureLink[] = [];
  const u = new URL(c.PUBLIC_URL);
  if (u.protocol !== 'https:') out.push({ variable: 'PUBLIC_URL', problem: `is ${u.protocol.slice(0, -1)}, not https` });
  if (!isRealDomain(u.hostname)) out.push({ variable: 'PUBLIC_URL', problem: `host ${u.hostname} is not a public domain name` });
  if (!isRealDomain(c.BOUNCE_DOMAIN)) out.push({ variable: 'BOUNCE_DOMAIN', problem: `${c.BOUNCE_DOMAIN} is not a public domain name` });
  return out;
}

export class ConfigError extends Error {}

const SECRET_KEYS = new Set(['DATABASE_URL', 'DATABASE_OWNER_URL', 'DATABASE_DIRECT_URL', 'SMTP_URL', 'SMTP_URLS', 'TOKEN_KEYS']);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function defaults(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(root, 'config', 'default.json'), 'utf8')) as Record<string, unknown>;
}

/** The TLS files named by the configuration exist and are readable; the inbound certificate and key come together. Throws ConfigError. */
function checkTlsFiles(c: RawConfig): void {
  if (Boolean(c.INBOUND_TLS_CERT) !== Boolean(c.INBOUND_TLS_KEY)) {
    const missing = c.INBOUND_TLS_CERT ? 'INBOUND_TLS_KEY' : 'INBOUND_TLS_CERT';
    throw new ConfigError(`invalid configuration: ${missing} is required with ${missing === 'INBOUND_TLS_KEY' ? 'INBOUND_TLS_CERT' : 'INBOUND_TLS_KEY'} (both are PEM file paths)`);
  }
  for (const name of ['SMTP_TLS_CA', 'INBOUND_TLS_CERT', 'INBOUND_TLS_KEY'] as const) {
    const file = c[name];
    if (!file) continue;
    try { accessSync(file, fsConstants.R_OK); } catch (err) {
      throw new ConfigError(`invalid configuration: ${name} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${JSON.stringify(file)})`);
    }
  }
}

/** Validates env over defaults; throws ConfigError with one line naming the variable at fault. */
export function loadConfig(env: Record<string, string | undefined>, overrides: Partial<RawConfig> = {}): Config {
  const merged: Record<string, unknown> = { ...defaults() };
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') merged[key] = v;
  }
  Object.assign(merged, overrides);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue.path[0] ?? 'config');
    const shown = SECRET_KEYS.has(name) ? '' : ` (got ${JSON.stringify(merged[name])})`;
    throw new ConfigError(`invalid configuration: ${name} ${issue.message}${shown}`);
  }
  const c = parsed.data;
  const dataDir = path.resolve(c.DATA_DIR);
  const publicUrl = (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, '');
  checkTlsFiles(c);
  if (c.SMTP_URL && c.SMTP_URLS) throw new ConfigError('invalid configuration: SMTP_URLS is set together with SMTP_URL; set one of them (SMTP_URLS may list a single relay)');
  // Relaying through several relays (SMTP_URLS) is relaying: the same checks as SMTP_URL.
  const insecure = insecureLinks({ SMTP_URL: c.SMTP_URL ?? c.SMTP_URLS, PUBLIC_URL: publicUrl, BOUNCE_DOMAIN: c.BOUNCE_DOMAIN });
  if (insecure.length > 0 && !c.ALLOW_INSECURE_LINKS) {
    const first = insecure[0];
    const got = first.variable === 'PUBLIC_URL' ? publicUrl : c.BOUNCE_DOMAIN;
    throw new ConfigError(`invalid configuration: ${first.variable} ${first.problem}; relayed mail (SMTP_URL is set) needs ${first.variable === 'PUBLIC_URL' ? 'an https URL on a public host' : 'a public domain'} (got ${JSON.stringify(got)}; ALLOW_INSECURE_LINKS=1 allows it, for staging)`);
  }
  const host = c.HOST ?? (c.SMTP_URL || c.SMTP_URLS ? '0.0.0.0' : '127.0.0.1');
  return { ...c, DATA_DIR: dataDir, PUBLIC_URL: publicUrl, HOST: host, insecureLinks: insecure };
}

export const projectRoot = root;
