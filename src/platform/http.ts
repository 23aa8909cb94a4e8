// HTTP adapter: express 5, JSON errors with a machine code and the field at fault, API-key auth,
// and typed routes whose zod schemas both validate requests and generate /openapi.json.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { findCardData, pathHoldsCardNumber, redactCardNumbers } from '../policy/cards.js';
import { html, renderPage, type PageSpec } from '../html.js';
import { pageLanguage, pageTranslator } from '../i18n/pages.js';
import { DomainError, type DomainErrorCode } from '../domain-error.js';
import type { Logger } from './log.js';
import { requestFingerprint, type IdempotencyStore } from './idempotency.js';
import { jsonShapeViolation, type ShapeViolation } from './json-shape.js';

export type Scope = 'subscribers' | 'transactional' | 'campaigns' | 'events' | 'admin';
export const SCOPES: readonly Scope[] = ['subscribers', 'transactional', 'campaigns', 'events', 'admin'];

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
  list_name_taken: 409, list_archived: 422, default_list: 409, list_in_use: 409,
  no_association: 422, idempotency_conflict: 409, total_mismatch: 422, amount_out_of_range: 422,
  invalid_state: 409, campaign_not_editable: 409, not_compliant: 422, not_test_address: 422, invalid_template: 422, render_failed: 422,
  test_address_unverified: 422, address_suppressed: 422,
  unverified_domain: 422, domain_taken: 409, selector_exists: 409, too_many_pending: 409,
  last_admin_key: 409,
  invalid_segment: 422, segment_name_taken: 409, segment_in_use: 409, segment_count_timeout: 503,
  endpoint_disabled: 409,
  invalid_credentials: 401, account_locked: 423, staff_email_taken: 409, last_admin_user: 409,
};

export function domainStatus(code: DomainErrorCode): number {
  return DOMAIN_STATUS[code];
}

/** A domain error as the API answers it: the code's status, the same JSON body, Retry-After when rate limited. */
export function fromDomainError(err: DomainError): ApiError {
  return new ApiError(domainStatus(err.code), err.code, err.message, err.field, { ...err.details });
}

/**
 * Who a request acts for: an API key, or a staff member's console session (issue 19). `keyId` is the
 * key's id, or `staff:<email>` for a session (recorded where an actor is kept: suppressions, imports).
 */
export interface AuthContext {
  tenantId: string; keyId: string; scopes: Scope[];
  /** Set for a console session: the account, and whether its role only reads (viewer). */
  staff?: { userId: string; email: string; role: string; sessionId: string; readOnly: boolean; csrfToken: string; expiresAt: Date };
}

/** One staff action for the audit log (Api.route calls ApiOptions.audit with it). */
export interface AuditRecord { action: string; method: string; path: string; status: number }

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}

function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('') || '$';
}

/** The first zod issue as a 422 naming its field (an unknown key is named itself); up to 20 issues in `errors`. */
export function zodToApiError(err: z.ZodError, prefix = ''): ApiError {
  const where = (i: z.core.$ZodIssue) => prefix + fieldOf(i.code === 'unrecognized_keys' && i.keys.length ? [...i.path, i.keys[0]] : i.path);
  const what = (i: z.core.$ZodIssue) => (i.code === 'unrecognized_keys' ? 'unknown key: not accepted here' : i.message);
  const issue = err.issues[0];
  const field = where(issue);
  const errors = err.issues.slice(0, 20).map((i) => ({ field: where(i), message: what(i) }));
  return new ApiError(422, 'invalid', `${field}: ${what(issue)}`, field, { errors });
}

export function parse<T extends z.ZodType>(schema: T, value: unknown, prefix = ''): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToApiError(r.error, prefix);
  return r.data;
}

function sendError(res: Response, err: ApiError): void {
  const retryAfter = err.code === 'rate_limited' || err.code === 'account_locked' ? err.extra.retryAfterSeconds : undefined;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  res.status(err.status).json({ error: { code: err.code, message: err.message, field: err.field, ...err.extra } });
}

export interface RouteContext<B, Q> {
  auth: AuthContext; tenantId: string; body: B; query: Q; params: Record<string, string>; req: Request; res: Response;
  /** The Idempotency-Key header of a POST (already claimed for this request), or null. */
  idempotencyKey: string | null;
  /** The body as bytes, for a `raw` route; null otherwise. */
  rawBody: Buffer | null;
}
export interface RouteResult { status?: number; body: unknown; headers?: Record<string, string> }
/** A route that takes its body as bytes (e.g. message/rfc822): the media types it accepts and its size limit. */
export interface RawBodySpec {
  types: RegExp; limit: number; accepts: string; defaultType?: string;
  /**
   * The handler streams the body from ctx.req itself (an upload of hundreds of MiB is never buffered):
   * only the media type and a declared Content-Length over `limit` (413) are checked here; the
   * handler enforces `limit` on what it reads. ctx.rawBody is null, and an Idempotency-Key's
   * fingerprint covers the method, path and query, not the body.
   */
  stream?: boolean;
}
export interface RouteSpec<B extends z.ZodType, Q extends z.ZodType> {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;           // express path, e.g. /api/contacts/:id
  scope: Scope;
  summary: string;
  description?: string;
  /** Default: the method and the path, camel-cased (postCampaignsByIdStart). */
  operationId?: string;
  /** The JSON body (a strict object: unknown keys are refused). Without it, a body must be empty or {}. */
  body?: B;
  /** This route's JSON body limit in bytes (default DEFAULT_JSON_BODY_BYTES; never above ApiOptions.maxBodyBytes). */
  maxBodyBytes?: number;
  /** The query string (a strict object). Without it, no query parameter is accepted. */
  query?: Q;
  /** The handler gets the body as bytes (ctx.rawBody) instead of JSON. */
  raw?: RawBodySpec;
  /** The success body's schema (documented in /openapi.json) and its statuses (default [200]). */
  response?: z.ZodType;
  success?: number[];
  /** A success body that is not JSON (e.g. message/rfc822). */
  responseMediaType?: string;
  /** 4xx statuses the handler's domain gives, beyond those every route can give (documented). */
  errors?: number[];
  /** What an Idempotency-Key replay gets instead of the body, when the body holds a secret shown once (it is never stored). */
  replayBody?: (body: unknown) => unknown;
  /** Vendor extensions (x-…) for the operation in /openapi.json. */
  extensions?: Record<string, unknown>;
  /** A POST that changes nothing (a count, a preview): a read-only staff role (viewer) may call it, and it is not audited. */
  readOnly?: boolean;
  /** Audit this route's changes whoever makes them, an API key too (staff accounts), not only console sessions. */
  auditAlways?: boolean;
}

interface DocOp {
  method: string; path: string; summary: string; description?: string; operationId: string; scope: Scope | null;
  body?: Record<string, unknown>; query?: Record<string, unknown>; raw?: RawBodySpec;
  response?: Record<string, unknown>; success: number[]; responseMediaType?: string; errors: number[]; extensions: Record<string, unknown>;
}

export interface ApiOptions {
  /** The largest JSON body any route accepts (bytes, MAX_BODY_BYTES); 413 beyond. Routes take DEFAULT_JSON_BODY_BYTES unless they ask for more. */
  maxBodyBytes?: number;
  /** Without it the Idempotency-Key header is validated but not honoured (tests of the router alone). */
  idempotency?: IdempotencyStore;
  /** Records a console session's request that may change something (not GET, not readOnly), or any caller's of an auditAlways route, with its outcome, before the answer is sent. */
  audit?: (auth: AuthContext, record: AuditRecord) => Promise<void>;
}

const JSON_TYPE = /^application\/(?:json|[a-z0-9!#$&^_.-]+\+json)$/i;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;

/** True when the request carries a body (a Content-Length above zero, or a chunked body). */
function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && len !== '0';
}

/** The 413 for a body over its size limit in bytes (a streamed upload's handler throws it too). */
export function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'body_too_large', `the body is larger than ${limit} bytes`, 'body', { limit });
}

/** The 413 for a JSON body over a shape limit (json-shape.ts), naming where; a card number in a key is not echoed. */
function shapeError(v: ShapeViolation): ApiError {
  const field = redactCardNumbers(v.field);
  const message = v.limit === 'values' ? `the body holds more than ${v.max} JSON values; send less per request`
    : v.limit === 'members' ? `${field === 'body' ? 'the body' : field} has more than ${v.max} members`
      : `${field} nests more than ${v.max} levels deep`;
  if (v.limit === 'reserved_key') return new ApiError(422, 'reserved_key', `${field} is named "__proto__", which no field may be`, field);
  return new ApiError(413, 'body_too_large', message, field, { limit: v.limit, max: v.max });
}

/**
 * The body-parser `verify` hook: the shape limits (json-shape.ts: values, members per object, depth)
 * checked on the bytes before JSON.parse, so nothing after (parse, card scan, fingerprint, zod) walks
 * an unbounded body. A charset other than UTF-8 is transcoded for the check; one the platform cannot
 * decode is 415. Throws the ApiError, which body-parser passes on unchanged.
 */
function checkJsonShape(buf: Buffer, encoding: string | null): void {
  let bytes = buf;
  if (encoding && encoding !== 'utf-8' && encoding !== 'utf8') {
    let text: string;
    try { text = new TextDecoder(encoding).decode(buf); } catch {
      throw new ApiError(415, 'unsupported_encoding', 'send the body as UTF-8 JSON', 'content-type');
    }
    bytes = Buffer.from(text, 'utf8');
  }
  const violation = jsonShapeViolation(bytes);
  if (violation) throw shapeError(violation);
}

function mediaType(req: Request): string {
  return (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

/** Runs an express middleware (a body parser, the card guard) as a promise: its error, thrown or passed to next, rejects. */
function runMiddleware(mw: (req: Request, res: Response, next: NextFunction) => void, req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    try { mw(req, res, (err?: unknown) => (err ? reject(err) : resolve())); } catch (err) { reject(err); }
  });
}

/**
 * The Idempotency-Key header (IETF httpapi draft: a structured-field string, "…"; a bare token is
 * accepted too): 1–200 printable ASCII characters without spaces, else 400 invalid_idempotency_key;
 * one holding a card number is 422 card_data_rejected (the key is stored).
 */
export function idempotencyKeyOf(req: Request): string | null {
  const header = req.get('idempotency-key');
  if (header === undefined) return null;
  let v = header.trim();
  const quoted = /^"((?:[^"\\]|\\["\\])*)"$/.exec(v);
  if (quoted) v = quoted[1].replace(/\\(["\\])/g, '$1');
  if (!IDEMPOTENCY_KEY.test(v)) {
    throw new ApiError(400, 'invalid_idempotency_key', 'Idempotency-Key must be 1–200 printable ASCII characters without spaces, e.g. "8e03978e-40d5-43e8-bc93-6894a57f9324"', 'Idempotency-Key');
  }
  // The key is stored (and may become a notice's ledger purpose): a card number in it is refused like one in the body.
  if (findCardData(v) !== null) throw new DomainError('card_data_rejected', 'payment-card numbers are never accepted or stored', 'Idempotency-Key');
  return v;
}

function operationIdOf(method: string, path: string): string {
  const words = path.replace(/^\/api\//, '').split('/').filter(Boolean)
    .map((seg) => (seg.startsWith(':') ? `by-${seg.slice(1)}` : seg))
    .flatMap((seg) => seg.split(/[^A-Za-z0-9]+/)).filter(Boolean);
  return method + words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
}

/** A zod schema as an OpenAPI 3.1 schema object (JSON Schema 2020-12, without its $schema line). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { unrepresentable: 'any', io }) as Record<string, unknown>;
  return rest;
}

const EMPTY_BODY = z.strictObject({});
const EMPTY_QUERY = z.strictObject({});

/** Reusable error responses of /openapi.json, by status. */
const ERROR_RESPONSES: Record<number, { name: string; description: string }> = {
  400: { name: 'BadRequest', description: 'Malformed JSON (malformed_json) or a malformed Idempotency-Key (invalid_idempotency_key)' },
  401: { name: 'Unauthorized', description: 'No API key, or an unknown, revoked or expired one (unauthorized)' },
  403: { name: 'Forbidden', description: "The key lacks this operation's scope (forbidden_scope)" },
  404: { name: 'NotFound', description: 'No such resource for this tenant (not_found)' },
  409: { name: 'Conflict', description: 'A conflicting state, or a request with this Idempotency-Key still in progress (idempotency_key_in_use)' },
  413: { name: 'PayloadTooLarge', description: 'The body is over the size limit, or over a shape limit: 10 000 JSON values, 1 000 members in one object, 64 levels of nesting (body_too_large; field names where)' },
  415: { name: 'UnsupportedMediaType', description: 'A body that is not JSON (unsupported_media_type), or an unsupported encoding or charset' },
  422: { name: 'Invalid', description: 'The request is not acceptable: the field at fault is named (invalid, card_data_rejected, idempotency_key_reused, …)' },
  423: { name: 'Locked', description: 'Too many wrong passwords: the staff account is locked for a while; see Retry-After (account_locked)' },
  429: { name: 'RateLimited', description: 'Too many requests of this kind; see Retry-After (rate_limited)' },
  503: { name: 'Unavailable', description: 'The work did not finish in its time budget (segment_count_timeout); try a narrower request or later' },
};

const ERROR_BODY = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object', required: ['code', 'message', 'field'], additionalProperties: true,
      properties: {
        code: { type: 'string', description: 'A machine code, e.g. invalid, not_found, unsupported_media_type' },
        message: { type: 'string' },
        field: { type: ['string', 'null'], description: 'The input at fault: a body path (data.subject), query.<name>, a header name, or null' },
      },
    },
  },
} as const;

/**
 * A route's JSON body limit unless it asks for more (templates, invoices): a JSON body is parsed and
 * card-scanned on the event loop, about 10–50 ms per MiB, so most routes take far less than a MiB.
 */
export const DEFAULT_JSON_BODY_BYTES = 256 * 1024;

/** The API surface: routes registered here are authenticated, validated and documented. */
export class Api {
  readonly router: Router = express.Router();
  private readonly ops: DocOp[] = [];
  private readonly jsonParsers = new Map<number, (req: Request, res: Response, next: NextFunction) => void>();
  private readonly maxBodyBytes: number;
  private readonly idempotency: IdempotencyStore | null;
  private readonly audit: ApiOptions['audit'] | null;

  constructor(private readonly authenticate: (req: Request) => Promise<AuthContext>, opts: ApiOptions = {}) {
    this.maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
    this.idempotency = opts.idempotency ?? null;
    this.audit = opts.audit ?? null;
  }

  /**
   * Registers a route. Per request, in this order: authentication (401), scope (403), the body read
   * only then (415 not JSON, 413 too large in bytes or in shape, checked before parsing: json-shape.ts;
   * 400 malformed), the card-number guard (422), the
   * Idempotency-Key of a POST (replay, 422 reused for another request, 409 in progress), then the
   * body and query schemas (422 naming the field; unknown keys refused) and the handler.
   */
  route<B extends z.ZodType = z.ZodUnknown, Q extends z.ZodType = z.ZodUnknown>(
    spec: RouteSpec<B, Q>, handler: (ctx: RouteContext<z.infer<B>, z.infer<Q>>) => Promise<RouteResult | void>,
  ): void {
    const bodySchema: z.ZodType = spec.body ?? EMPTY_BODY;
    const querySchema: z.ZodType = spec.query ?? EMPTY_QUERY;
    this.ops.push({
      method: spec.method, path: spec.path, summary: spec.summary, description: spec.description, scope: spec.scope,
      operationId: spec.operationId ?? operationIdOf(spec.method, spec.path),
      body: spec.body ? jsonSchema(spec.body, 'input') : undefined,
      query: spec.query ? jsonSchema(spec.query, 'input') : undefined,
      raw: spec.raw,
      response: spec.response ? jsonSchema(spec.response, 'output') : undefined,
      success: spec.success ?? [200], responseMediaType: spec.responseMediaType,
      errors: spec.errors ?? [], extensions: spec.extensions ?? {},
    });
    const operationId = spec.operationId ?? operationIdOf(spec.method, spec.path);
    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      const auth = await this.authenticate(req);
      const audit = this.audit;
      if ((!auth.staff && !spec.auditAlways) || spec.method === 'get' || spec.readOnly || !audit) return this.serve(spec, bodySchema, querySchema, handler, req, res, auth, null);
      const record = (status: number) => audit(auth, { action: operationId, method: req.method, path: `${req.baseUrl}${req.path}`, status });
      try {
        await this.serve(spec, bodySchema, querySchema, handler, req, res, auth, record);
      } catch (err) {
        await record(errorStatus(err));
        throw err;
      }
    });
  }

  /**
   * Registers a route that needs no authentication (signing in, setting a password with a one-time
   * link): the same JSON body reading (415, 413, 400), card guard, schemas (422) and answer as route(),
   * without Idempotency-Key handling; documented with no security requirement.
   */
  publicRoute<B extends z.ZodType = z.ZodUnknown>(spec: Omit<RouteSpec<B, z.ZodUnknown>, 'scope' | 'query' | 'raw'>,
    handler: (ctx: { body: z.infer<B>; req: Request; res: Response }) => Promise<RouteResult | void>): void {
    const bodySchema: z.ZodType = spec.body ?? EMPTY_BODY;
    this.ops.push({
      method: spec.method, path: spec.path, summary: spec.summary, description: spec.description, scope: null,
      operationId: spec.operationId ?? operationIdOf(spec.method, spec.path),
      body: spec.body ? jsonSchema(spec.body, 'input') : undefined,
      response: spec.response ? jsonSchema(spec.response, 'output') : undefined,
      success: spec.success ?? [200], errors: spec.errors ?? [], extensions: spec.extensions ?? {},
    });
    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      if (spec.method !== 'get') await this.readJson(req, res, spec.maxBodyBytes ?? DEFAULT_JSON_BODY_BYTES);
      await runMiddleware(cardDataGuard, req, res);
      const body = (spec.method === 'get' ? undefined : parse(bodySchema, req.body ?? {}, '')) as z.infer<B>;
      parse(EMPTY_QUERY, req.query, 'query.');
      const out = await handler({ body, req, res });
      for (const [k, v] of Object.entries(out ? out.headers ?? {} : {})) res.setHeader(k, v);
      res.status(out ? out.status ?? 200 : 204);
      if (!out) res.end(); else res.type('application/json').send(JSON.stringify(out.body) ?? 'null');
    });
  }

  /** One request of a route, authenticated: scope and role, body, card guard, idempotency, schemas, handler, answer (`beforeSend` runs first with the status). */
  private async serve<B extends z.ZodType, Q extends z.ZodType>(spec: RouteSpec<B, Q>, bodySchema: z.ZodType, querySchema: z.ZodType,
    handler: (ctx: RouteContext<z.infer<B>, z.infer<Q>>) => Promise<RouteResult | void>, req: Request, res: Response, auth: AuthContext,
    beforeSend: ((status: number) => Promise<void>) | null): Promise<void> {
    if (!auth.scopes.includes(spec.scope) && !auth.scopes.includes('admin')) {
      throw new ApiError(403, 'forbidden_scope', auth.staff ? `your role (${auth.staff.role}) cannot do this` : `this key lacks the '${spec.scope}' scope`, 'authorization');
    }
    if (auth.staff?.readOnly && spec.method !== 'get' && !spec.readOnly) {
      throw new ApiError(403, 'forbidden_role', `your role (${auth.staff.role}) can only read`, 'authorization');
    }
    const takesBody = spec.method !== 'get';
    const rawBody = spec.raw && !spec.raw.stream ? await this.readRaw(spec.raw, req, res) : null;
    if (spec.raw?.stream) await this.readRaw(spec.raw, req, res);
    if (!spec.raw && takesBody) await this.readJson(req, res, spec.maxBodyBytes ?? DEFAULT_JSON_BODY_BYTES);
    await runMiddleware(cardDataGuard, req, res);
    const key = spec.method === 'post' ? idempotencyKeyOf(req) : null;
    const path = `${req.baseUrl}${req.path}`;
    // Canonical JSON (key order does not matter): bounded, as the shape check bounded the body (~5 ms at its limits).
    const fingerprint = key ? requestFingerprint(req.method, path, req.query, rawBody ?? req.body ?? null) : '';
    if (key && this.idempotency) {
      const claim = await this.idempotency.claim(auth.tenantId, key, fingerprint, req.method, path);
      if (claim.kind === 'replay') {
        res.status(claim.status).set('Idempotent-Replayed', 'true');
        if (claim.body === '') res.end(); else res.type('application/json').send(claim.body);
        return;
      }
      if (claim.kind === 'mismatch') {
        throw new ApiError(422, 'idempotency_key_reused', 'this Idempotency-Key was already used for a different request (method, path or body); use a new key', 'Idempotency-Key');
      }
      if (claim.kind === 'in_progress') {
        res.setHeader('Retry-After', '1');
        throw new ApiError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still in progress; retry once it has finished', 'Idempotency-Key');
      }
    }
    const claimed = Boolean(key && this.idempotency);
    const release = async () => { if (claimed && key) await this.idempotency?.release(auth.tenantId, key, fingerprint).catch(() => undefined); };
    let out: RouteResult | void;
    try {
      const body = (spec.raw || !takesBody ? undefined : parse(bodySchema, req.body ?? {}, '')) as z.infer<B>;
      const query = parse(querySchema, req.query, 'query.') as z.infer<Q>;
      const params = req.params as Record<string, string>;
      // No resource is named with a NUL (PostgreSQL text cannot even hold one): 422 naming the parameter, never a 500 from the query.
      const nul = Object.entries(params).find(([, v]) => typeof v === 'string' && v.includes('\u0000'));
      if (nul) throw new ApiError(422, 'invalid', 'must not contain a NUL character', nul[0]);
      out = await handler({ auth, tenantId: auth.tenantId, body, query, params, req, res, idempotencyKey: key, rawBody });
    } catch (err) {
      await release();
      throw err;
    }
    if (res.headersSent) { await release(); return; }
    const status = out ? out.status ?? 200 : 204;
    await beforeSend?.(status);
    const text = out ? JSON.stringify(out.body) ?? 'null' : '';
    if (claimed && key) {
      // The work is done: a failure to record it must not turn into an error the client retries.
      const stored = out && spec.replayBody ? JSON.stringify(spec.replayBody(out.body)) ?? 'null' : text;
      if (status < 300) await this.idempotency?.complete(auth.tenantId, key, fingerprint, status, stored).catch(() => undefined);
      else await release();
    }
    for (const [k, v] of Object.entries(out ? out.headers ?? {} : {})) res.setHeader(k, v);
    res.status(status);
    if (!out) res.end(); else res.type('application/json').send(text);
  }

  /** Parses a JSON body, only now that the caller is authenticated: 415 for a non-empty body that is not JSON. */
  private async readJson(req: Request, res: Response, routeLimit: number): Promise<void> {
    if (!hasBody(req) || req.headers['content-length'] === '0') return;
    if (!JSON_TYPE.test(mediaType(req))) {
      throw new ApiError(415, 'unsupported_media_type', 'send the body as JSON (Content-Type: application/json)', 'content-type');
    }
    await runMiddleware(this.jsonParser(Math.min(routeLimit, this.maxBodyBytes)), req, res);
  }

  /** The JSON parser for one size limit (parsing and the card scan cost ~50 ms of event loop per MiB: small by default). */
  private jsonParser(limit: number): (req: Request, res: Response, next: NextFunction) => void {
    let parser = this.jsonParsers.get(limit);
    if (!parser) {
      parser = express.json({ limit, strict: true, type: () => true, verify: (_req, _res, buf, encoding) => checkJsonShape(buf, encoding) });
      this.jsonParsers.set(limit, parser);
    }
    return parser;
  }

  /** Reads a raw body (the handler parses it) after a media-type check: 415 for other types, 413 over the limit. */
  private async readRaw(spec: RawBodySpec, req: Request, res: Response): Promise<Buffer> {
    const type = mediaType(req) || (spec.defaultType ?? '');
    if (!spec.types.test(type)) throw new ApiError(415, 'unsupported_media_type', `send the body as ${spec.accepts}`, 'content-type');
    if (spec.stream) {
      if (Number(req.headers['content-length'] ?? 0) > spec.limit) throw tooLarge(spec.limit);
      return Buffer.alloc(0);
    }
    await runMiddleware(express.raw({ type: () => true, limit: spec.limit }), req, res);
    return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  }

  /** The HTTP methods registered for a path (for 405 and Allow), empty when no route matches it. */
  methodsFor(path: string): string[] {
    const out = new Set<string>();
    for (const op of this.ops) {
      const re = new RegExp(`^${op.path.split('/').map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}/?$`);
      if (re.test(path)) out.add(op.method.toUpperCase());
    }
    return [...out];
  }

  /** The OpenAPI 3.1 document of every registered route (lint-clean under Redocly's recommended rules). */
  openapi(publicUrl: string): unknown {
    const paths: Record<string, Record<string, unknown>> = {};
    const usedErrors = new Set<number>();
    for (const op of this.ops) {
      const p = op.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      const pathParams = [...op.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
      const queryProps = (op.query?.properties ?? {}) as Record<string, Record<string, unknown>>;
      const required = new Set((op.query?.required ?? []) as string[]);
      const queryParams = Object.entries(queryProps).map(([name, schema]) => ({
        name, in: 'query', required: required.has(name), schema,
        ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
      }));
      const errors = new Set<number>([...(op.scope ? [401, 403] : []), ...op.errors]);
      if (pathParams.length) errors.add(404);
      if (op.query || op.body || op.raw) errors.add(422);
      if (op.method !== 'get') { errors.add(400); errors.add(413); errors.add(415); errors.add(422); }
      if (op.method === 'post') errors.add(409);
      const responses: Record<string, unknown> = {};
      for (const s of op.success) {
        const description = s === 201 ? 'Created' : s === 202 ? 'Accepted: queued' : s === 204 ? 'No content' : 'OK';
        responses[String(s)] = s === 204 ? { description } : {
          description,
          content: { [op.responseMediaType ?? 'application/json']: { schema: op.response ?? (op.responseMediaType ? { type: 'string' } : {}) } },
        };
      }
      for (const s of [...errors].sort()) { usedErrors.add(s); responses[String(s)] = { $ref: `#/components/responses/${ERROR_RESPONSES[s].name}` }; }
      const requestBody = op.raw
        ? { required: true, content: Object.fromEntries(op.raw.accepts.split(/,\s*|\s+or\s+/).map((t) => [t.trim(), { schema: { type: 'string' } }])) }
        : op.body ? { required: true, content: { 'application/json': { schema: op.body } } } : undefined;
      const idempotencyHeader = op.method === 'post' ? [{ $ref: '#/components/parameters/IdempotencyKey' }] : [];
      paths[p] ??= {};
      paths[p][op.method] = {
        operationId: op.operationId, summary: op.summary, ...(op.description ? { description: op.description } : {}),
        ...(op.scope ? { security: [{ bearer: [] }, { session: [] }], 'x-scope': op.scope } : { security: [] }),
        parameters: [...pathParams, ...queryParams, ...idempotencyHeader],
        ...(requestBody ? { requestBody } : {}),
        responses, ...op.extensions,
      };
    }
    const responses = Object.fromEntries([...usedErrors].sort().map((s) => [ERROR_RESPONSES[s].name, {
      description: ERROR_RESPONSES[s].description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    }]));
    return {
      openapi: '3.1.0',
      info: {
        title: 'Postgate API', version: '0.1.0',
        description: 'Consent, transactional mail and campaigns. Every error body is {error: {code, message, field}}; lists are {items, nextCursor}. '
          + 'Every POST honours an Idempotency-Key header (24 hours, per tenant).',
        license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
      },
      servers: [{ url: publicUrl.replace(/\/+$/, '') }],
      security: [{ bearer: [] }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: Authorization: Bearer <key>' },
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'A staff console session (POST /api/session); every request but GET also sends X-CSRF-Token' },
        },
        parameters: {
          IdempotencyKey: {
            name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 202 },
            description: 'IETF httpapi Idempotency-Key: a retry with the same key and the same request gets the first response again (Idempotent-Replayed: true); '
              + 'the same key with another request is 422 idempotency_key_reused; while the first is in progress, 409 idempotency_key_in_use. Kept 24 hours per tenant; a failed request frees its key.',
          },
        },
        responses,
        schemas: { Error: ERROR_BODY },
      },
      paths,
    };
  }
}

/** The answer to an /api path no route has: 405 with Allow when the path exists for other methods, else 404 not_found. */
export function apiNotFound(api: Api) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const methods = api.methodsFor(`${req.baseUrl}${req.path}`);
    if (methods.length && !methods.includes(req.method)) {
      res.setHeader('Allow', methods.join(', '));
      next(new ApiError(405, 'method_not_allowed', `${req.method} is not allowed here; allowed: ${methods.join(', ')}`, null));
      return;
    }
    next(new ApiError(404, 'not_found', 'no such endpoint', null));
  };
}

/**
 * A key's scope check for a page outside Api.route (the outbox): authenticates (401 unauthorized),
 * then 403 forbidden_scope unless the key has `scope` (or admin). Returns the key's context.
 */
export async function requireScope(authenticate: (req: Request) => Promise<AuthContext>, req: Request, scope: Scope, why: string): Promise<AuthContext> {
  const auth = await authenticate(req);
  if (!auth.scopes.includes(scope) && !auth.scopes.includes('admin')) throw new ApiError(403, 'forbidden_scope', why, 'authorization');
  return auth;
}

/** Bearer-key authentication; the lookup by the key's sha-256 is tenants/api-keys.ts findApiKey (no SQL here). */
export function apiKeyAuthenticator(lookup: (keyHash: Buffer) => Promise<AuthContext | null>): (req: Request) => Promise<AuthContext> {
  return async (req) => {
    const header = req.get('authorization') ?? '';
    const m = /^Bearer ([A-Za-z0-9_-]{20,200})$/.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'send the API key as Authorization: Bearer <key>', 'authorization');
    const auth = await lookup(hashApiKey(m[1]));
    if (!auth) throw new ApiError(401, 'unauthorized', 'unknown, revoked or expired API key', 'authorization');
    return auth;
  };
}

/** Refuses any request whose body, query or path (also percent-decoded) holds a payment-card number (policy/cards: Unicode digits, separator runs, invisible characters), before anything else runs. */
export function cardDataGuard(req: Request, _res: Response, next: NextFunction): void {
  const where = findCardData(req.body, 'body') ?? findCardData(req.query, 'query') ?? (pathHoldsCardNumber(req.path) ? 'path' : null);
  if (where) throw new DomainError('card_data_rejected', 'payment-card numbers are never accepted or stored', where);
  next();
}

/** The status an error is answered with (errorHandler's mapping, for the audit log). */
function errorStatus(err: unknown): number {
  if (err instanceof ApiError) return err.status;
  if (err instanceof DomainError) return domainStatus(err.code);
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  return status >= 400 && status < 600 ? status : 500;
}

/** The console's session cookie (issue 19): HttpOnly, SameSite=Lax, Secure under https, Path=/. */
export const SESSION_COOKIE = 'postgate_session';

/** The value of one cookie of the request (RFC 6265 Cookie header), or null. */
export function cookieValue(req: Request, name: string): string | null {
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** A staff session as the authenticator needs it; the lookup is src/staff (no SQL here). */
export interface SessionAuth { tenantId: string; sessionId: string; userId: string; email: string; role: string; csrfToken: string; expiresAt: Date; scopes: Scope[]; readOnly: boolean }

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authentication by API key (Authorization: Bearer) or, without that header, by the console's
 * session cookie. A session's request that may change something (any method but GET, HEAD, OPTIONS)
 * must carry the session's CSRF token in X-CSRF-Token (synchronizer token pattern): else 403
 * csrf_failed. No cookie and no key: 401 unauthorized.
 */
export function keyOrSessionAuthenticator(byKey: (req: Request) => Promise<AuthContext>, bySession: (secret: string) => Promise<SessionAuth | null>):
(req: Request) => Promise<AuthContext> {
  return async (req) => {
    const secret = req.get('authorization') === undefined ? cookieValue(req, SESSION_COOKIE) : null;
    if (secret === null) return byKey(req);
    const s = await bySession(secret);
    if (!s) throw new ApiError(401, 'unauthorized', 'your session has ended: sign in again', 'cookie');
    if (!SAFE_METHODS.has(req.method) && !sameSecret(req.get('x-csrf-token') ?? '', s.csrfToken)) {
      throw new ApiError(403, 'csrf_failed', 'missing or wrong X-CSRF-Token: reload the page and try again', 'x-csrf-token');
    }
    return { tenantId: s.tenantId, keyId: `staff:${s.email}`, scopes: s.scopes, staff: { userId: s.userId, email: s.email, role: s.role, sessionId: s.sessionId, readOnly: s.readOnly, csrfToken: s.csrfToken, expiresAt: s.expiresAt } };
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y) && a.length > 0;
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
    log.error({ err: e.message, path: pathHoldsCardNumber(req.path) ? '[redacted]' : req.path, method: req.method }, 'request failed');
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
      log.debug({ method: req.method, path: pathHoldsCardNumber(req.path) ? '[redacted]' : req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
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
    // img-src https: lets the tenant's logo (an https URL, issue 20) load; no-referrer keeps the token from its host.
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  }).send(html);
}

/**
 * Errors of the public pages' own plumbing, before any page code runs: a path whose percent-encoding
 * does not decode (400) and a form body over its limit (413) get a page in the visitor's language,
 * not the API's JSON. Anything else, and anything under /api or asked for as JSON, goes on.
 */
export function pageErrors(err: unknown, req: Request, res: Response, next: NextFunction): void {
  const status = (err as { status?: unknown }).status;
  const wantsPage = !req.path.startsWith('/api') && req.accepts(['html', 'json']) !== 'json';
  if (!wantsPage || res.headersSent || (status !== 400 && status !== 413) || err instanceof ApiError || err instanceof DomainError) { next(err); return; }
  const t = pageTranslator(req, res);
  const body = status === 400
    ? html`<p>${t.t('page.link.invalid.text')}</p><p>${t.t('page.common.nothingChanged')}</p>`
    : html`<p>${t.t('page.common.error.text')}</p>`;
  sendPage(res, status, { title: t.t(status === 400 ? 'page.link.invalid.title' : 'page.common.error.title'), brand: null, ...pageLanguage(t), body });
}

/** The answer to any other path no route has: a 404 page (JSON for clients that ask only for JSON). */
export function notFoundPage(req: Request, res: Response, next: NextFunction): void {
  if (req.accepts(['html', 'json']) === 'json') { next(new ApiError(404, 'not_found', 'no such page', null)); return; }
  const t = pageTranslator(req, res);
  sendPage(res, 404, { title: t.t('page.notFound.title'), brand: null, ...pageLanguage(t), body: html`<p>${t.t('page.notFound.text')}</p>` });
}
