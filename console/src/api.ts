// The console's only way to the server: the JSON API under /api, with the session cookie and, on every
// non-GET request, the X-CSRF-Token header of the current session. Pages hold no business logic: they
// call these functions and show what comes back.

/** A failed API call: the HTTP status and the API's `{error:{code,message,field}}` (plus any extra facts). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    /** Everything else the error body carried (e.g. retryAfterSeconds, reasons). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

export const isApiFailure = (err: unknown): err is ApiFailure => err instanceof ApiFailure;

let csrfToken: string | null = null;
let unauthorizedHandler: (() => void) | null = null;

/** Set by the session (session.tsx) after sign-in or GET /api/session; null after sign-out. */
export function setCsrfToken(token: string | null): void { csrfToken = token; }

/** Called when a request answers 401 `unauthorized` (the session ended): session.tsx sends the user to the login page. */
export function onUnauthorized(handler: (() => void) | null): void { unauthorizedHandler = handler; }

/** `path` with the defined, non-empty params as a query string: withQuery('/api/contacts', {q: 'ann', cursor: undefined}). */
export function withQuery(path: string, params: Record<string, string | number | boolean | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

type Body = unknown;

async function send(method: string, path: string, body: Body | undefined, raw: boolean): Promise<Response> {
  const headers: Record<string, string> = { accept: raw ? '*/*' : 'application/json' };
  let payload: BodyInit | undefined;
  if (body instanceof FormData || body instanceof Blob) payload = body;
  else if (body !== undefined) { headers['content-type'] = 'application/json'; payload = JSON.stringify(body); }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiFailure(0, 'network_error', 'The server could not be reached. Check the connection and try again.');
  }
  if (!res.ok) throw await failure(res);
  return res;
}

async function failure(res: Response): Promise<ApiFailure> {
  let err: ApiFailure;
  try {
    const json = await res.json() as { error?: { code?: string; message?: string; field?: string | null } & Record<string, unknown> };
    const e = json.error ?? {};
    const { code, message, field, ...details } = e;
    err = new ApiFailure(res.status, code ?? `http_${res.status}`, message ?? res.statusText, field ?? null, details);
  } catch {
    err = new ApiFailure(res.status, `http_${res.status}`, res.statusText || `HTTP ${res.status}`);
  }
  if (res.status === 401 && err.code === 'unauthorized') unauthorizedHandler?.();
  return err;
}

async function json<T>(method: string, path: string, body?: Body): Promise<T> {
  const res = await send(method, path, body, false);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * The JSON API. Each call resolves to the parsed body (undefined for 204) or throws ApiFailure
 * (status 0 and code `network_error` when the server cannot be reached). A FormData or Blob body is
 * sent as is (uploads); anything else as JSON.
 */
export const api = {
  get: <T = unknown>(path: string): Promise<T> => json<T>('GET', path),
  post: <T = unknown>(path: string, body?: Body): Promise<T> => json<T>('POST', path, body ?? {}),
  put: <T = unknown>(path: string, body?: Body): Promise<T> => json<T>('PUT', path, body ?? {}),
  patch: <T = unknown>(path: string, body?: Body): Promise<T> => json<T>('PATCH', path, body ?? {}),
  del: <T = unknown>(path: string, body?: Body): Promise<T> => json<T>('DELETE', path, body),
  /** A non-JSON answer (CSV, HTML preview, raw report) as text. */
  text: async (path: string, method = 'GET', body?: Body): Promise<string> => (await send(method, path, body, true)).text(),
};

/** The cursor-paged list every /api list route answers. */
export interface Page<T> { items: T[]; nextCursor: string | null }
