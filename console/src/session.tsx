// The signed-in staff member, for every page: who, which tenant, which scopes, the CSRF token the API
// wrapper sends. The server decides every permission; this only hides what the role cannot use.
import { createContext, type ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { api, onUnauthorized, setCsrfToken } from './api';

export type Role = 'admin' | 'marketing' | 'viewer';
export type Scope = 'subscribers' | 'transactional' | 'campaigns' | 'events' | 'admin';

/** GET/POST /api/session's body. */
export interface SessionBody {
  user: { id: string; email: string; role: Role; timeZone?: string | null };
  tenant: { id: string; name: string };
  scopes: Scope[];
  csrfToken: string;
  /** ISO 8601. */
  expiresAt: string;
}

export interface SessionApi {
  /** 'loading' until GET /api/session answers; null when nobody is signed in. */
  session: SessionBody | null | 'loading';
  /** True after the user logged out here (the login page then needs no `next`). */
  signedOut: boolean;
  /** Whether the staff member holds the API scope (admin holds every scope). */
  can(scope: Scope): boolean;
  /** False for viewers: hide every button that changes something. */
  canWrite: boolean;
  /** The browser's time zone (IANA name), for schedules and dates. */
  timeZone: string;
  /** Stores the body POST /api/session answered. */
  signedIn(body: SessionBody): void;
  signOut(): Promise<void>;
  signOutEverywhere(): Promise<void>;
}

const Ctx = createContext<SessionApi | null>(null);

/** Loads the session once and keeps the CSRF token in api.ts in step. */
export function SessionProvider({ children, onExpired }: { children: ComponentChildren; onExpired: () => void }) {
  const [session, setSession] = useState<SessionBody | null | 'loading'>('loading');
  const [signedOut, setSignedOut] = useState(false);

  const set = useCallback((s: SessionBody | null) => { setCsrfToken(s ? s.csrfToken : null); setSession(s); }, []);

  useEffect(() => {
    let live = true;
    api.get<SessionBody>('/api/session').then((s) => { if (live) set(s); }, () => { if (live) set(null); });
    return () => { live = false; };
  }, [set]);

  useEffect(() => {
    onUnauthorized(() => { set(null); onExpired(); });
    return () => onUnauthorized(null);
  }, [set, onExpired]);

  const value = useMemo<SessionApi>(() => {
    const s = session === 'loading' ? null : session;
    return {
      session,
      signedOut,
      can: (scope) => !!s && (s.scopes.includes(scope) || s.scopes.includes('admin')),
      canWrite: !!s && s.user.role !== 'viewer',
      timeZone: s?.user.timeZone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
      signedIn: (body) => { setSignedOut(false); set(body); },
      async signOut() { try { await api.del('/api/session'); } finally { setSignedOut(true); set(null); } },
      async signOutEverywhere() { try { await api.post('/api/session/everywhere'); } finally { setSignedOut(true); set(null); } },
    };
  }, [session, signedOut, set]);

  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

/** The session context; throws outside SessionProvider. */
export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (!v) throw new Error('useSession outside SessionProvider');
  return v;
}

/** The signed-in session (pages render only when there is one). */
export function useSignedIn(): SessionBody {
  const { session } = useSession();
  if (!session || session === 'loading') throw new Error('useSignedIn: nobody is signed in');
  return session;
}
