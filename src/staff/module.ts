// Staff accounts and the console's sessions (issue 19): the session and staff routes, the
// authenticator's session half, and the audit hook Api.route calls for every staff change.
import type { AppDeps, Module } from '../deps.js';
import type { AuditRecord, AuthContext, SessionAuth } from '../platform/http.js';
import { appendAudit } from './audit.js';
import { sessionAuth } from './login.js';
import { sessionRoutes, staffUserRoutes } from './staff-api.js';

export function staffModule(deps: AppDeps): Module {
  return {
    name: 'staff',
    routes(api) {
      sessionRoutes(api, deps);
      staffUserRoutes(api, deps);
    },
  };
}

/** The live console session a cookie secret names, for platform/http.ts keyOrSessionAuthenticator (null: none). */
export function staffSessionLookup(deps: Pick<AppDeps, 'db' | 'config'>): (secret: string) => Promise<SessionAuth | null> {
  return (secret) => sessionAuth(deps.db, secret, deps.config.STAFF_SESSION_IDLE_MINUTES);
}

const SELF_RECORDED = new Set(['deleteSession', 'postSessionEverywhere']);

/** Api's audit hook: one staff_audit row per staff request that may change something (and per API-key change of an auditAlways route), with its status. */
export function staffAudit(deps: Pick<AppDeps, 'db'>): (auth: AuthContext, r: AuditRecord) => Promise<void> {
  return async (auth, r) => {
    // Signing out records itself (logout, logout_everywhere).
    if (SELF_RECORDED.has(r.action)) return;
    // An API key's change (auditAlways routes) is recorded under the key's id.
    const who = auth.staff ? { userId: auth.staff.userId, userEmail: auth.staff.email } : { userId: null, userEmail: `API key ${auth.keyId}` };
    await deps.db.withTenant(auth.tenantId, (c) => appendAudit(c, { tenantId: auth.tenantId, ...who, ...r }));
  };
}
