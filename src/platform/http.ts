// HTTP adapter: express 5, JSON errors with a machine code and the field at fault, API-key auth,
// and typed routes whose zod schemas both validate requests and generate /openapi.json.
import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { containsCardNumber, findCardData } from '../policy/cards.js';
import { renderPage, type PageSpec } from '../html.js';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import type { Logger } from './log.js';

export type Scope = 'subscribers' | 'transactional' | 'campaigns' | 'admin';
export const SCOPES: readonly Scope[] = ['subscribers', 'transactional', 'campaigns', 'admin'];

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public field: string | null = null, public extra: Record<string, unknown> = {}) {
    super(message);
  }
}
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

/** The one place a domain error code becomes an HTTP status. */
const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  not_found: 404, invalid: 422, conflict: 409, forbidden: 403, rate_limited: 429,
  card_data_rejected: 422,
  no_default_list: 422, unknown_list: 422, contact_not_eligible: 409, reason_required: 422, erasure_suppression: 409,
  no_association: 422, idempotency_conflict: 409, total_mismatch: 422, amount_out_of_range: 422,
  invalid_state: 409, not_compliant: 422, not_test_address: 422, invalid_template: 422, render_failed: 422,
};

export function domainStatus(code: DomainErrorCode): number {
  return DOMAIN_STATUS[code];
}

/** A domain error as the API answers it: the code's status, the same JSON body, Retry-After when rate limited. */
export function fromDomainError(err: DomainError): ApiError {
  return new ApiError(domainStatus(err.code), err.code, err.message, err.field, { ...err.details });
}

export interface AuthContext { tenantId: string; keyId: string; scopes: Scope[] }

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '$';
}

export function zodToApiError(err: z.ZodError, prefix = ''): ApiError {
  const issue = err.issues[0];
  const field = prefix + fieldOf(issue.path);
  const errors = err.issues.slice(0, 20).map((i) => ({ field: prefix + fieldOf(i.path), message: i.message }));
  return new ApiError(422, 'invalid', `${field}: ${issue.message}`, field, { errors });
}

export function parse<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToApiError(r.error, prefix);
  return r.data;
}

function sendError(res: Response, err: ApiError): void {
  const retryAfter = err.code === 'rate_limited' ? err.extra.retryAfterSeconds : undefined;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  res.status(err.status).json({ error: { code: err.code, message: err.message, field: err.field, ...err.extra } });
}

export interface RouteContext<B, Q> {
  auth: AuthContext; tenantId: string; body: B; query: Q; params: Record<string, string>; req: Request; res: Response;
}
export interface RouteResult { status?: number; body: unknown; headers?: Record<string, string> }
export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;           // express path, e.g. /api/contacts/:id
  scope: Scope;
  summary: string;
  body?: B;
  query?: Q;
  raw?: boolean;          // handler reads req itself (e.g. message/rfc822 bodies)
}

interface DocOp { method: string; path: string; summary: string; scope: Scope; body?: unknown; query?: unknown }

/** The API surface: routes registered here are authenticated, validated and documented. */
export class Api {
  readonly router: Router = express.Router();
  private readonly ops: DocOp[] = [];
  constructor(private readonly authenticate: (req: Request) => Promise<AuthContext>) {}

  route<B extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown>(
    spec: RouteSpec<B, Q>, handler: (ctx: RouteContext<z.infer<B>, z.infer<Q>>) => Promise<RouteResult | void>,
  ): void {
    this.ops.push({ method: spec.method, path: spec.path, summary: spec.summary, scope: spec.scope,
      body: spec.body ? z.toJSONSchema(spec.body, { unrepresentable: 'any' }) : undefined,
      query: spec.query ? z.toJSONSchema(spec.query, { unrepresentable: 'any' }) : undefined });
    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      const auth = await this.authenticate(req);
      if (!auth.scopes.includes(spec.scope) && !auth.scopes.includes('admin')) {
        throw new ApiError(403, 'forbidden_scope', `this key lacks the '${spec.scope}' scope`, 'authorization');
      }
      const body = (spec.body ? parse(spec.body, req.body ?? {}, '') : req.body) as z.infer<B>;
      const query = (spec.query ? parse(spec.query, req.query, 'query.') : req.query) as z.infer<Q>;
      const params = req.params as Record<string, string>;
      const out = await handler({ auth, tenantId: auth.tenantId, body, query, params, req, res });
      if (res.headersSent) return;
      if (!out) { res.status(204).end(); return; }
      for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v);
      res.status(out.status ?? 200).json(out.body);
    });
  }

  openapi(publicUrl: string): unknown {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const op of this.ops) {
      const p = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      const params = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      paths[p] ??= {};
      paths[p][op.method] = {
        summary: op.summary, security: [{ bearer: [] }], 'x-scope': op.scope, parameters: params,
        ...(op.query ? { 'x-query-schema': op.query } : {}),
        ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
        responses: { default: { description: 'JSON; errors are {error: {code, message, field}}' } },
      };
    }
    return { openapi: '3.1.0', info: { title: 'Postgate API', version: '0.1.0' }, servers: [{ url: publicUrl }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, paths };
  }
}

/** Bearer-key authentication; the lookup by the key's sha-256 is tenants/store.ts findApiKey (no SQL here). */
export function apiKeyAuthenticator(lookup: (keyHash: Buffer) => Promise<AuthContext | null>): (req: Request) => Promise<AuthContext> {
  return async (req) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'send the API key as Authorization: Bearer <key>', 'authorization');
    const auth = await lookup(hashApiKey(m[1]));
    if (!auth) throw new ApiError(401, 'unauthorized', 'unknown or revoked API key', 'authorization');
    return auth;
  };
}

/** Refuses any request whose body or query holds a payment-card number, before anything else runs. */
export function cardDataGuard(req: Request, _res: Response, next: NextFunction): void {
  const where = findCardData(req.body, 'body') ?? findCardData(req.query, 'query') ?? (containsCardNumber(req.path) ? 'path' : null);
  if (where) throw new DomainError('card_data_rejected', 'payment-card numbers are never accepted or stored', where);
  next();
}

/** Last middleware: every error becomes JSON with a code; nothing leaks a stack trace. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (res.headersSent) { res.end(); return; }
    if (err instanceof ApiError) { sendError(res, err); return; }
    if (err instanceof DomainError) { sendError(res, fromDomainError(err)); return; }
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    if (e.type === 'entity.too.large') { sendError(res, new ApiError(413, 'body_too_large', 'request body is too large', 'body')); return; }
    if (e.type === 'entity.parse.failed') { sendError(res, new ApiError(400, 'malformed_json', 'request body is not valid JSON', 'body')); return; }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') { sendError(res, new ApiError(415, 'unsupported_encoding', 'unsupported body encoding', 'body')); return; }
    const status = e.status ?? e.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) { sendError(res, new ApiError(status, 'bad_request', e.message ?? 'bad request', null)); return; }
    log.error({ err: e.message, path: containsCardNumber(req.path) ? '[redacted]' : req.path, method: req.method }, 'request failed');
    sendError(res, new ApiError(500, 'internal', 'internal error', null));
  };
}

/** Where request durations go (the postgate_http_request_seconds histogram of metrics.ts). */
export interface DurationObserver { observe(labels: { method: string; route: string; status: string }, seconds: number): void }

/** The route pattern a request matched ('/api/contacts/:id', never the ids themselves), or 'unmatched'. */
function routeLabel(req: Request): string {
  const route = req.route as { path?: unknown } | undefined;
  return route && typeof route.path === 'string' ? `${req.baseUrl}${route.path}` : 'unmatched';
}

/** Logs each request at debug level and observes its duration by method, route pattern and status. */
export function requestLog(log: Logger, durations?: DurationObserver) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      durations?.observe({ method: req.method, route: routeLabel(req), status: String(res.statusCode) }, ms / 1000);
      log.debug({ method: req.method, path: containsCardNumber(req.path) ? '[redacted]' : req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/** Sends a public page (the shell of html.ts) with headers that keep tokens in its URL out of referrers, caches and frames. */
export function sendPage(res: Response, status: number, page: PageSpec): void {
  const html = renderPage(page);
  res.status(status).set({
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  }).send(html);
}
