// Staff accounts: the list, invite (the one-time set-password link shown once), change role, disable or
// enable, a new password link, remove. The server decides every rule (the last admin, one's own account…).
import { useState } from 'preact/hooks';
import { api, type Page } from '../../api';
import { useSession, useSignedIn, type Role } from '../../session';
import {
  Button, ConfirmDialog, Loading, Notice, Section, Select, Table, TextInput, errorMessage, formErrors, formatDate, type AsyncState, type FormErrors,
} from '../../ui';
import { OneTimeSecret } from '../../ui/secret';
import { ROLE_OPTIONS, type StaffUser } from './types';

function InviteForm({ onInvited, onCancel }: { onInvited: (u: StaffUser, link: string | null) => void; onCancel: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('marketing');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const r = await api.post<{ user: StaffUser; setPasswordUrl: string | null }>('/api/staff-users', { email: email.trim(), role });
      onInvited(r.user, r.setPasswordUrl);
    } catch (err) {
      setErrors(formErrors(err, ['email', 'role']));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Invite a staff member">
      <h3>Invite a staff member</h3>
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <TextInput label="Email" type="email" autoComplete="off" value={email} onValue={setEmail} required error={errors.email} />
      <Select label="Role" value={role} onValue={(v) => setRole(v as Role)} options={ROLE_OPTIONS} error={errors.role} />
      <div class="actions">
        <Button variant="primary" type="submit" busy={busy}>Invite</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

/** Whether the account is locked now (too many failed sign-ins): lockedUntil lies in the future. */
const isLocked = (u: StaffUser): boolean => !!u.lockedUntil && Date.parse(u.lockedUntil) > Date.now();

function stateOf(u: StaffUser): { label: string; badge: string } {
  if (u.disabledAt) return { label: 'disabled', badge: 'badge--bad' };
  if (isLocked(u)) return { label: 'locked', badge: 'badge--warn' };
  if (!u.hasPassword) return { label: 'invited', badge: 'badge--warn' };
  return { label: 'active', badge: 'badge--ok' };
}

/** GET/POST /api/staff-users, PATCH/DELETE /api/staff-users/:id, POST /api/staff-users/:id/password-link. */
export function StaffSection({ list, onChanged }: { list: AsyncState<Page<StaffUser>>; onChanged: () => void }) {
  const me = useSignedIn();
  const { canWrite, timeZone } = useSession();
  const [inviting, setInviting] = useState(false);
  const [link, setLink] = useState<{ email: string; url: string; invited: boolean } | null>(null);
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [rowError, setRowError] = useState<{ id: string; text: string } | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [removing, setRemoving] = useState<StaffUser | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);

  async function act(u: StaffUser, what: () => Promise<string>) {
    setBusy(u.id);
    setNotice(null);
    setRowError(null);
    try {
      setNotice({ kind: 'success', text: await what() });
      await list.reload();
      onChanged();
    } catch (err) {
      setRowError({ id: u.id, text: errorMessage(err) });
    } finally {
      setBusy(null);
    }
  }
  const changeRole = (u: StaffUser, role: Role) => act(u, async () => {
    await api.patch(`/api/staff-users/${u.id}`, { role });
    return `${u.email} is now ${role}.`;
  });
  const setDisabled = (u: StaffUser, disabled: boolean) => act(u, async () => {
    await api.patch(`/api/staff-users/${u.id}`, { disabled });
    return disabled ? `${u.email} is disabled and signed out everywhere.` : `${u.email} is enabled.`;
  });
  const unlock = (u: StaffUser) => act(u, async () => {
    await api.patch(`/api/staff-users/${u.id}`, { unlock: true });
    return `${u.email} is unlocked and may sign in again.`;
  });
  const newLink = (u: StaffUser) => act(u, async () => {
    const r = await api.post<{ setPasswordUrl: string }>(`/api/staff-users/${u.id}/password-link`);
    setLink({ email: u.email, url: r.setPasswordUrl, invited: false });
    return `A new set-password link for ${u.email} is ready; earlier links no longer work.`;
  });

  async function remove() {
    if (!removing) return;
    setBusy(removing.id);
    setRemoveError(null);
    try {
      await api.del(`/api/staff-users/${removing.id}`);
      setNotice({ kind: 'success', text: `${removing.email} is removed.` });
      setRemoving(null);
      await list.reload();
      onChanged();
    } catch (err) {
      setRemoveError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  }

  const users = list.data?.items ?? [];
  return (
    <Section id="staff" title="Staff" actions={canWrite && !inviting ? <Button variant="primary" onClick={() => { setInviting(true); setLink(null); setNotice(null); }}>Invite</Button> : null}>
      {link ? (
        <OneTimeSecret title={link.invited ? `${link.email} is invited` : `A new set-password link for ${link.email}`} value={link.url} what="set-password link" onDone={() => setLink(null)}>
          Send this one-time link to {link.email} yourself (it is not shown again). It sets their password, then they sign in.
        </OneTimeSecret>
      ) : null}
      {notice && !link ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      {inviting ? <InviteForm onCancel={() => setInviting(false)} onInvited={(u, url) => {
        setInviting(false);
        if (url) setLink({ email: u.email, url, invited: true }); else setNotice({ kind: 'success', text: `${u.email} is invited.` });
        void list.reload();
        onChanged();
      }} /> : null}
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : list.loading && !list.data ? <Loading /> : (
        <Table<StaffUser> caption="Staff accounts" captionHidden rows={users} rowKey={(u) => u.id} columns={[
          { label: 'Email', render: (u) => <>{u.email}{u.id === me.user.id ? <span class="muted"> (you)</span> : null}</> },
          { label: 'Role', render: (u) => (canWrite && u.id !== me.user.id ? (
            <>
              <label class="visually-hidden" for={`role-${u.id}`}>Role of {u.email}</label>
              <select class="role-select" key={`${u.role}:${rowError?.id === u.id ? rowError.text : ''}`} id={`role-${u.id}`} value={u.role} disabled={busy === u.id} aria-invalid={rowError?.id === u.id ? 'true' : undefined}
                aria-describedby={rowError?.id === u.id ? `err-${u.id}` : undefined}
                onChange={(e) => { const v = e.currentTarget.value as Role; if (v !== u.role) void changeRole(u, v); }}>
                {ROLE_OPTIONS.map((o) => <option key={o.value} value={o.value}>{o.value}</option>)}
              </select>
              {rowError?.id === u.id ? <p class="field-error" id={`err-${u.id}`} role="alert">{rowError.text}</p> : null}
            </>
          ) : u.role) },
          { label: 'State', render: (u) => { const s = stateOf(u); return <span class={`badge ${s.badge}`}>{s.label}</span>; } },
          { label: 'Since', render: (u) => formatDate(u.createdAt, timeZone) },
          { label: 'Actions', hideLabel: true, render: (u) => (canWrite && u.id !== me.user.id ? (
            <div class="actions">
              {isLocked(u) && !u.disabledAt ? <Button onClick={() => unlock(u)} busy={busy === u.id} aria-label={`Unlock ${u.email}`}>Unlock</Button> : null}
              <Button onClick={() => setDisabled(u, !u.disabledAt)} busy={busy === u.id} aria-label={`${u.disabledAt ? 'Enable' : 'Disable'} ${u.email}`}>{u.disabledAt ? 'Enable' : 'Disable'}</Button>
              <Button onClick={() => newLink(u)} aria-label={`New set-password link for ${u.email}`}>New password link</Button>
              <Button variant="danger" onClick={() => { setRemoveError(null); setRemoving(u); }} aria-label={`Remove ${u.email}`}>Remove</Button>
            </div>
          ) : null) },
        ]} />
      )}
      <ConfirmDialog open={removing !== null} title={`Remove ${removing?.email ?? ''}?`} confirmLabel="Remove account" danger busy={busy !== null && removing !== null}
        error={removeError} onConfirm={remove} onCancel={() => setRemoving(null)}>
        <p>The account is deleted and its sessions end. Its entries in the audit log stay.</p>
      </ConfirmDialog>
    </Section>
  );
}
