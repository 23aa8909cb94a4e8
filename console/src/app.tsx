// The console's routes. Each area is one page file (console/src/pages/<area>.tsx, default export),
// loaded on first visit. Signed-out visitors go to the login page, and back to where they were after it.
import { useCallback, useEffect } from 'preact/hooks';
import { LocationProvider, Route, Router, lazy, useLocation } from 'preact-iso';
import { SessionProvider, useSession } from './session';
import { Layout } from './layout';
import LoginPage from './pages/login';
import SetPasswordPage from './pages/set-password';
import { PageHeader } from './ui/page';
import { PUBLIC, loginUrl, trim } from './nav';

const Dashboard = lazy(() => import('./pages/dashboard'));
const Lists = lazy(() => import('./pages/lists'));
const Contacts = lazy(() => import('./pages/contacts'));
const Imports = lazy(() => import('./pages/imports'));
const Segments = lazy(() => import('./pages/segments'));
const Templates = lazy(() => import('./pages/templates'));
const Campaigns = lazy(() => import('./pages/campaigns'));
const Suppressions = lazy(() => import('./pages/suppressions'));
const Domains = lazy(() => import('./pages/domains'));
const Keys = lazy(() => import('./pages/keys'));
const Settings = lazy(() => import('./pages/settings'));
const Users = lazy(() => import('./pages/users'));

export function App() {
  return (
    <LocationProvider scope="/console">
      <Root />
    </LocationProvider>
  );
}

function Root() {
  const { route } = useLocation();
  const onExpired = useCallback(() => {
    if (!PUBLIC.has(trim(location.pathname))) route(loginUrl(location.pathname + location.search), true);
  }, [route]);
  return <SessionProvider onExpired={onExpired}><Gate /></SessionProvider>;
}

function Gate() {
  const { session, signedOut } = useSession();
  const { path, url, route } = useLocation();
  const isPublic = PUBLIC.has(trim(path));
  useEffect(() => {
    if (session === null && !isPublic) route(signedOut ? '/console/login' : loginUrl(url), true);
  }, [session, signedOut, isPublic, url, route]);

  if (session === 'loading') return <p class="boot" role="status">Loading…</p>;
  if (isPublic) return trim(path) === '/console/login' ? <LoginPage /> : <SetPasswordPage />;
  if (!session) return null;
  return (
    <Layout>
      <Router>
        <Route path="/console" component={Dashboard} />
        <Route path="/console/lists" component={Lists} />
        <Route path="/console/contacts" component={Contacts} />
        <Route path="/console/contacts/:id" component={Contacts} />
        <Route path="/console/imports" component={Imports} />
        <Route path="/console/segments" component={Segments} />
        <Route path="/console/templates" component={Templates} />
        <Route path="/console/templates/:id" component={Templates} />
        <Route path="/console/campaigns" component={Campaigns} />
        <Route path="/console/campaigns/:id" component={Campaigns} />
        <Route path="/console/suppressions" component={Suppressions} />
        <Route path="/console/domains" component={Domains} />
        <Route path="/console/keys" component={Keys} />
        <Route path="/console/settings" component={Settings} />
        <Route path="/console/users" component={Users} />
        <Route default component={NotFound} />
      </Router>
    </Layout>
  );
}

function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>There is no console page at this address. <a href="/console/">Go to the dashboard</a>.</p>
    </>
  );
}
