import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { useSession, useSignedIn } from './session';
import { NAV, currentItem } from './nav';
import { Button } from './ui/button';

/** The frame of every signed-in page: skip link, header (tenant, user, log out), nav and <main>. */
export function Layout({ children }: { children: ComponentChildren }) {
  const s = useSignedIn();
  const session = useSession();
  const { path } = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [busy, setBusy] = useState<'' | 'one' | 'all'>('');
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  const current = currentItem(path);

  // A new page: close the menu and move focus to <main> (so keyboard and screen reader users start there).
  useEffect(() => {
    setMenuOpen(false);
    if (first.current) { first.current = false; return; }
    main.current?.focus();
  }, [path]);

  async function logOut(everywhere: boolean) {
    setBusy(everywhere ? 'all' : 'one');
    // The session becomes null and the router (app.tsx) shows the login page.
    await (everywhere ? session.signOutEverywhere() : session.signOut()).catch(() => undefined);
  }

  return (
    <div class="shell">
      <a class="skip-link" href="#main" onClick={(e) => { e.preventDefault(); main.current?.focus(); }}>Skip to content</a>
      <header class="topbar">
        <div class="brand">
          <a href="/console/" class="brand-name">Postgate</a>
          <span class="tenant" title="Tenant">{s.tenant.name}</span>
        </div>
        <button type="button" class="btn btn--secondary menu-toggle" aria-expanded={menuOpen ? 'true' : 'false'} aria-controls="site-nav"
          onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <div class="account">
          <span class="who"><span class="email">{s.user.email}</span> <span class="role">({s.user.role})</span></span>
          <Button onClick={() => logOut(false)} busy={busy === 'one'}>Log out</Button>
          <Button onClick={() => logOut(true)} busy={busy === 'all'}>Log out everywhere</Button>
        </div>
      </header>
      <div class="body">
        <nav id="site-nav" class={`sidenav${menuOpen ? ' open' : ''}`} aria-label="Console">
          <ul>
            {NAV.filter((n) => n.visible(session)).map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={current === n ? 'page' : undefined}>{n.labelFor ? n.labelFor(session) : n.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" ref={main} tabIndex={-1}>{children}</main>
      </div>
    </div>
  );
}
