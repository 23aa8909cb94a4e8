// Configuration: the environment over config/default.json, validated once with zod.
// Only the composition root (src/main.ts) reads the environment; it passes it here.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const rate = z.coerce.number().min(0).max(1);
const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try { return protocols.includes(new URL(v).protocol); } catch { return false; }
  }, `must be a URL (${protocols.join(' or ')})`);

export const configSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATA_DIR: z.string().min(1),
  PORT: int(0, 65535),
  PUBLIC_URL: url(['http:', 'https:']).optional(),
  SMTP_URL: url(['smtp:', 'smtps:']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  TOKEN_KEYS: z.string().regex(/^[A-Za-z0-9_-]{1,16}:[^,]{16,}(,[A-Za-z0-9_-]{1,16}:[^,]{16,})*$/,
    'must be kid:secret[,kid:secret…] with secrets of 16+ characters, current key first').optional(),
  BOUNCE_DOMAIN: z.string().regex(/^[a-z0-9.-]+\.[a-z0-9-]+$/i, 'must be a domain name'),
  INBOUND_SMTP_PORT: int(0, 65535),
  SMTP_POOL_SIZE: int(1, 100),
  SEND_CONCURRENCY: int(1, 256),
  SEND_RATE_PER_SECOND: int(1, 100_000),
  ACTIVATION_TTL_DAYS: int(1, 365),
  ACTIVATION_CAP_PER_DAY: int(1, 100),
  BODY_RETENTION_DAYS: int(0, 3650),
  BOUNCE_RAW_RETENTION_DAYS: int(0, 3650),
  SOFT_BOUNCE_LIMIT: int(1, 100),
  SOFT_BOUNCE_WINDOW_DAYS: int(1, 365),
  COMPLAINT_PAUSE_RATE: rate,
  HARD_BOUNCE_PAUSE_RATE: rate,
  PAUSE_MIN_SENT: int(0, 1_000_000),
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
});

export type RawConfig = z.infer<typeof configSchema>;
export interface Config extends Omit<RawConfig, 'PUBLIC_URL'> { PUBLIC_URL: string }

export class ConfigError extends Error {}

const SECRET_KEYS = new Set(['DATABASE_URL', 'SMTP_URL', 'TOKEN_KEYS']);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function defaults(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(root, 'config', 'default.json'), 'utf8')) as Record<string, unknown>;
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
  return { ...c, DATA_DIR: dataDir, PUBLIC_URL: publicUrl };
}

export const projectRoot = root;
