// Staff roles (PURE, issue 19): what each role may do, as API scopes and a read-only flag. The console
// calls the same API as keys do, so a role is enforced where a key's scopes are: in Api.route.
//   admin      every scope (keys, domains, settings, staff, bounces, …)
//   marketing  subscribers, campaigns, events, transactional: runs newsletters, not the account
//   viewer     every scope, reads only: any request other than GET (or a route marked read-only,
//              such as a segment count or a template preview) is refused
import type { Scope } from '../platform/http.js';

export type StaffRole = 'admin' | 'marketing' | 'viewer';
export const STAFF_ROLES: readonly StaffRole[] = ['admin', 'marketing', 'viewer'];

/** The API scopes a role grants (admin includes every other scope, as it does for keys). */
export function roleScopes(role: StaffRole): Scope[] {
  if (role === 'admin') return ['admin'];
  if (role === 'marketing') return ['subscribers', 'transactional', 'campaigns', 'events'];
  return ['subscribers', 'transactional', 'campaigns', 'events', 'admin'];
}

/** Whether the role may only read (GET, and routes that change nothing). */
export function roleReadsOnly(role: StaffRole): boolean {
  return role === 'viewer';
}
