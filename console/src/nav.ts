// The console's pages as the navigation lists them, and who may see each. The server enforces every
// permission; this only hides what the role cannot use.
import type { SessionApi } from './session';

export interface NavItem {
  href: string;
  label: string;
  /** The label for this staff member when it differs from `label` (marketing sees "Webhooks" only). */
  labelFor?: (s: Pick<SessionApi, 'can' | 'canWrite'>) => string;
  /** Whether the signed-in staff member sees the page. */
  visible: (s: Pick<SessionApi, 'can' | 'canWrite'>) => boolean;
}

export const NAV: NavItem[] = [
  { href: '/console/', label: 'Dashboard', visible: () => true },
  { href: '/console/lists', label: 'Lists', visible: (s) => s.can('subscribers') },
  { href: '/console/contacts', label: 'Contacts', visible: (s) => s.can('subscribers') },
  { href: '/console/imports', label: 'Imports', visible: (s) => s.can('subscribers') && s.canWrite },
  { href: '/console/segments', label: 'Segments', visible: (s) => s.can('subscribers') },
  { href: '/console/templates', label: 'Templates', visible: (s) => s.can('campaigns') },
  { href: '/console/campaigns', label: 'Campaigns', visible: (s) => s.can('campaigns') },
  { href: '/console/suppressions', label: 'Bounces & suppressions', visible: (s) => s.can('subscribers') },
  { href: '/console/domains', label: 'Domains', visible: (s) => s.can('admin') },
  { href: '/console/keys', label: 'API keys & webhooks', visible: (s) => s.can('admin') || s.can('events'),
    labelFor: (s) => (s.can('admin') ? 'API keys & webhooks' : 'Webhooks') },
  { href: '/console/settings', label: 'Settings', visible: (s) => s.can('admin') },
  { href: '/console/users', label: 'Staff & audit log', visible: (s) => s.can('admin') },
];

/** The nav item the path belongs to ('/console/contacts/12' → Contacts). */
export function currentItem(path: string): NavItem | undefined {
  const p = path.replace(/\/+$/, '') || '/console';
  if (p === '/console') return NAV[0];
  return NAV.find((n) => n.href !== '/console/' && (p === n.href || p.startsWith(`${n.href}/`)));
}

/** The pages shown without a session. */
export const PUBLIC = new Set(['/console/login', '/console/set-password']);
export const trim = (p: string): string => p.replace(/\/+$/, '') || '/';

/** The login URL that returns to `here` afterwards. */
export const loginUrl = (here: string): string =>
  trim(here.split('?')[0]) === '/console' ? '/console/login' : `/console/login?next=${encodeURIComponent(here)}`;

/**
 * A `next` parameter that stays inside the console (no open redirect); otherwise the dashboard. The
 * path is resolved first (so "/console/../../evil" is "/evil", refused) and must be a same-origin path
 * under /console; the public pages (login, set-password) are refused too. Returns path + query + hash.
 */
export function safeNext(next: string | undefined, origin: string = location.origin): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\') || /[\u0000-\u001f]/.test(next)) return '/console/';
  let url: URL;
  try { url = new URL(next, origin); } catch { return '/console/'; }
  if (url.origin !== new URL(origin).origin) return '/console/';
  if (url.pathname !== '/console' && !url.pathname.startsWith('/console/')) return '/console/';
  if (PUBLIC.has(trim(url.pathname))) return '/console/';
  return url.pathname + url.search + url.hash;
}

