// Sign in with email and password (POST /api/session); then back to `next` (inside the console only).
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, isApiFailure } from '../api';
import { safeNext } from '../nav';
import { useSession, type SessionBody } from '../session';
import { Button } from '../ui/button';
import { TextInput } from '../ui/field';
import { Notice } from '../ui/notice';
import { useTitle } from '../ui/page';

/** The words for a refused sign-in: wrong credentials, a locked account (minutes left), too many tries. */
export function loginError(err: unknown): string {
  if (!isApiFailure(err)) return 'Signing in failed. Try again.';
  const wait = typeof err.details.retryAfterSeconds === 'number' ? Math.max(1, Math.ceil(err.details.retryAfterSeconds / 60)) : null;
  const minutes = wait === null ? '' : ` Try again in ${wait} minute${wait === 1 ? '' : 's'}.`;
  switch (err.code) {
    case 'invalid_credentials': return 'The email or password is not right.';
    case 'account_locked': return `This account is locked after too many failed sign-ins.${minutes || ' Try again later.'}`;
    case 'rate_limited': return `Too many sign-in attempts.${minutes || ' Wait a moment and try again.'}`;
    default: return err.message;
  }
}

export default function LoginPage() {
  useTitle('Sign in');
  const { session, signedIn, signedOut } = useSession();
  const { query, route } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ text: string; field: string | null } | null>(null);
  const next = safeNext(query.next);

  useEffect(() => { if (session && session !== 'loading') route(next, true); }, [session, next, route]);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = await api.post<SessionBody>('/api/session', { email: email.trim(), password });
      signedIn(body);
    } catch (err) {
      const field = isApiFailure(err) && err.field !== null && ['email', 'password'].includes(err.field) ? err.field : null;
      setError({ text: loginError(err), field });
      setBusy(false);
      // The field's error is read with it (aria-describedby) once it has focus.
      if (field) setTimeout(() => document.getElementById(`login-${field}`)?.focus(), 0);
    }
  }

  return (
    <main id="main" class="auth-page" tabIndex={-1}>
      <div class="auth-card">
        <p class="brand-name">Postgate</p>
        <h1>Sign in</h1>
        {error && !error.field ? <Notice kind="error">{error.text}</Notice> : signedOut ? <Notice kind="success">You are signed out.</Notice> : null}
        <form onSubmit={submit} noValidate>
          <TextInput id="login-email" label="Email" type="email" name="email" autoComplete="username" required value={email} onValue={setEmail}
            error={error?.field === 'email' ? error.text : null} />
          <TextInput id="login-password" label="Password" type="password" name="password" autoComplete="current-password" required value={password} onValue={setPassword}
            error={error?.field === 'password' ? error.text : null} />
          <Button variant="primary" type="submit" busy={busy} busyLabel="Signing in…">Sign in</Button>
        </form>
        <p class="hint">No password yet or forgot it? Ask an administrator for a set-password link.</p>
      </div>
    </main>
  );
}
