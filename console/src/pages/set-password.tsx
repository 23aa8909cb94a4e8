// The one-time set-password link: <PUBLIC_URL>/console/set-password#token=<t>. The token stays in the
// fragment (never sent in a URL to the server or a Referer); it goes in the POST body.
import { useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, isApiFailure } from '../api';
import { useSession, type SessionBody } from '../session';
import { Button } from '../ui/button';
import { TextInput } from '../ui/field';
import { Notice } from '../ui/notice';
import { useTitle } from '../ui/page';

const MIN_LENGTH = 12;

function tokenFromHash(): string {
  const h = location.hash.replace(/^#/, '');
  return new URLSearchParams(h).get('token') ?? '';
}

export default function SetPasswordPage() {
  useTitle('Set your password');
  const { signedIn } = useSession();
  const { route } = useLocation();
  const [token] = useState(tokenFromHash);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ password?: string; confirm?: string; form?: string }>({});
  const [done, setDone] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (password !== confirm) { setErrors({ confirm: 'The two passwords differ.' }); return; }
    setBusy(true);
    setErrors({});
    try {
      const body = await api.post<Partial<SessionBody> | undefined>('/api/session/password', { token, password });
      history.replaceState(null, '', location.pathname); // the token is spent: drop it from the address bar
      if (body && body.csrfToken && body.user && body.tenant) { signedIn(body as SessionBody); route('/console/', true); return; }
      setDone(true);
    } catch (err) {
      if (isApiFailure(err) && err.field === 'password') setErrors({ password: err.message });
      else if (isApiFailure(err) && (err.field === 'token' || err.code === 'not_found' || err.status === 410)) {
        setErrors({ form: 'This link is not valid any more (it was used or it expired). Ask an administrator for a new one.' });
      } else setErrors({ form: isApiFailure(err) ? err.message : 'Setting the password failed. Try again.' });
    } finally {
      setBusy(false);
    }
  }

  return (
    <main id="main" class="auth-page" tabIndex={-1}>
      <div class="auth-card">
        <p class="brand-name">Postgate</p>
        <h1>Set your password</h1>
        {done ? (
          <Notice kind="success" title="Your password is set.">
            <a href="/console/login">Sign in</a>
          </Notice>
        ) : !token ? (
          <Notice kind="error">This page needs the link you were sent (it ends with #token=…). Open the link from the message again.</Notice>
        ) : (
          <>
            {errors.form ? <Notice kind="error">{errors.form}</Notice> : null}
            <form onSubmit={submit} noValidate>
              <TextInput label="New password" type="password" name="password" autoComplete="new-password" required value={password} onValue={setPassword}
                hint={`At least ${MIN_LENGTH} characters. A passphrase of several words is easy to remember.`} error={errors.password} />
              <TextInput label="Repeat the password" type="password" name="confirm" autoComplete="new-password" required value={confirm} onValue={setConfirm}
                error={errors.confirm} />
              <Button variant="primary" type="submit" busy={busy} busyLabel="Saving…">Set password</Button>
            </form>
          </>
        )}
      </div>
    </main>
  );
}
