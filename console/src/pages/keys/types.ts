// The API shapes the keys page reads (GET /api/keys, /api/webhooks, /api/webhooks/:id/deliveries).
import type { Scope } from '../../session';

export interface ApiKey {
  id: string; name: string | null; prefix: string; scopes: Scope[];
  createdAt: string; lastUsedAt: string | null; expiresAt: string | null; revokedAt: string | null;
}
export interface NewApiKey extends ApiKey { key: string | null }

export interface Endpoint {
  id: string; url: string; types: string[]; description: string | null; enabled: boolean;
  disabledReason: string | null; disabledAt: string | null; lastSuccessAt: string | null; createdAt: string; updatedAt: string;
}
export interface EndpointWithSecret extends Endpoint { secret: string | null }

export interface Attempt { attempt: number; at: string; statusCode: number | null; durationMs: number; error: string | null; response: string | null }
export interface Delivery {
  id: string; eventId: string; eventType: string | null; webhookId: string; replay: number;
  status: 'pending' | 'sending' | 'delivered' | 'failed' | 'dropped';
  attempts: number; nextAttemptAt: string | null; createdAt: string; finishedAt: string | null;
  lastStatusCode: number | null; lastError: string | null; attemptLog: Attempt[];
}

/** The API scopes a key may hold (POST /api/keys `scopes`), with what each lets a key do. */
export const KEY_SCOPES: { value: Scope; label: string; hint: string }[] = [
  { value: 'subscribers', label: 'subscribers', hint: 'contacts, lists, consent, imports, segments, suppressions' },
  { value: 'transactional', label: 'transactional', hint: 'invoices and notices' },
  { value: 'campaigns', label: 'campaigns', hint: 'templates, campaigns, test sends' },
  { value: 'events', label: 'events', hint: 'the event feed and webhooks' },
  { value: 'admin', label: 'admin', hint: 'everything, including keys, domains, settings and staff' },
];

/** A key's state for people: revoked, expired (by its expiry date) or active. */
export function keyState(k: ApiKey, now = Date.now()): 'revoked' | 'expired' | 'active' {
  if (k.revokedAt) return 'revoked';
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return 'expired';
  return 'active';
}
