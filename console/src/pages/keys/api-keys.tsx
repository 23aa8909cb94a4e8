// The API keys section: the list (prefix, scopes, state, last use), create (shown once) and revoke.
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { useSession } from '../../session';
import {
  Button, Checkbox, ConfirmDialog, EmptyState, Fieldset, Notice, Pager, Section, Select, Table, TextInput,
  errorMessage, formErrors, formatDate, useApiList, type FormErrors,
} from '../../ui';
import { OneTimeSecret } from '../../ui/secret';
import { KEY_SCOPES, keyState, type ApiKey, type NewApiKey } from './types';
import type { Scope } from '../../session';

const EXPIRY_OPTIONS = [
  { value: '', label: 'Never' }, { value: '30', label: 'In 30 days' }, { value: '90', label: 'In 90 days' },
  { value: '365', label: 'In a year' }, { value: 'date', label: 'On a date…' },
];

function CreateKeyForm({ onCreated, onCancel }: { onCreated: (k: NewApiKey) => void; onCancel: () => void }) {
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>([]);
  const [expiry, setExpiry] = useState('');
  const [date, setDate] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});

  async function submit(e: Event) {
    e.preventDefault();
    const body: Record<string, unknown> = { scopes };
    if (name.trim()) body.name = name.trim();
    if (expiry === 'date') {
      if (!date) { setErrors({ expiresAt: 'Choose the day the key stops working.' }); return; }
      body.expiresAt = new Date(`${date}T00:00`).toISOString();
    } else if (expiry) body.expiresInDays = Number(expiry);
    setBusy(true);
    setErrors({});
    try {
      onCreated(await api.post<NewApiKey>('/api/keys', body));
    } catch (err) {
      setErrors(formErrors(err, ['name', 'scopes', 'expiresAt', 'expiresInDays']));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card" onSubmit={submit} noValidate aria-label="New API key">
      <h3>New API key</h3>
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <TextInput label="Name" value={name} onValue={setName} hint="For people: what uses the key (e.g. “shop backend”)." error={errors.name} maxLength={200} />
      <Fieldset legend="Scopes" hint="What the key may do. Give only what the caller needs." error={errors.scopes}>
        {KEY_SCOPES.map((s) => (
          <Checkbox key={s.value} label={<><code>{s.label}</code>: {s.hint}</>} checked={scopes.includes(s.value)}
            onChecked={(on) => setScopes(on ? [...scopes, s.value] : scopes.filter((x) => x !== s.value))} />
        ))}
      </Fieldset>
      <Select label="Expires" value={expiry} onValue={setExpiry} options={EXPIRY_OPTIONS} error={expiry === 'date' ? null : errors.expiresInDays ?? errors.expiresAt} />
      {expiry === 'date' ? <TextInput label="Expiry date" type="date" value={date} onValue={setDate} error={errors.expiresAt} hint="The key stops working at the start of this day (your time zone)." /> : null}
      <div class="actions">
        <Button variant="primary" type="submit" busy={busy}>Create key</Button>
        <Button onClick={onCancel}>Cancel</Button>
      </div>
    </form>
  );
}

const STATE_BADGE = { active: 'badge--ok', expired: 'badge--warn', revoked: 'badge--bad' } as const;

/** GET/POST /api/keys, DELETE /api/keys/:id. */
export function ApiKeysSection() {
  const { canWrite, timeZone } = useSession();
  const list = useApiList<ApiKey>('/api/keys');
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  async function revoke() {
    if (!revoking) return;
    setBusy(true);
    setRevokeError(null);
    try {
      await api.del(`/api/keys/${revoking.id}`);
      setDone(`The key ${revoking.prefix}… is revoked.`);
      setRevoking(null);
      await list.reload();
    } catch (err) {
      setRevokeError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section id="keys" title="API keys" actions={canWrite && !creating ? <Button variant="primary" onClick={() => { setCreating(true); setCreated(null); setDone(null); }}>Create key</Button> : null}>
      {created && created.key ? (
        <OneTimeSecret title="Your new API key" value={created.key} what="API key" onDone={() => setCreated(null)}>
          Copy it now and keep it somewhere safe: it is not shown again. Send it as <code>Authorization: Bearer …</code>.
        </OneTimeSecret>
      ) : null}
      {done ? <Notice kind="success">{done}</Notice> : null}
      {creating ? (
        <CreateKeyForm onCancel={() => setCreating(false)} onCreated={(k) => { setCreating(false); setCreated(k); void list.reload(); }} />
      ) : null}
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : null}
      {!list.loading && !list.error && list.items.length === 0 && !list.hasPrev ? <EmptyState title="No API keys yet." /> : (
        <Table<ApiKey> caption="API keys, newest first" captionHidden rows={list.items} rowKey={(k) => k.id} columns={[
          { label: 'Name', render: (k) => k.name ?? <span class="muted">(no name)</span> },
          { label: 'Prefix', render: (k) => <code>{k.prefix}…</code> },
          { label: 'Scopes', render: (k) => k.scopes.join(', ') },
          { label: 'State', render: (k) => { const s = keyState(k); return <span class={`badge ${STATE_BADGE[s]}`}>{s}</span>; } },
          { label: 'Last used', render: (k) => (k.lastUsedAt ? formatDate(k.lastUsedAt, timeZone) : <span class="muted">never</span>) },
          { label: 'Created', render: (k) => formatDate(k.createdAt, timeZone) },
          { label: 'Expires', render: (k) => (k.expiresAt ? formatDate(k.expiresAt, timeZone) : <span class="muted">never</span>) },
          { label: 'Actions', hideLabel: true, render: (k) => (canWrite && !k.revokedAt
            ? <Button variant="danger" onClick={() => { setRevokeError(null); setDone(null); setRevoking(k); }} aria-label={`Revoke key ${k.name ?? k.prefix} (${k.prefix}…)`}>Revoke</Button>
            : null) },
        ]} />
      )}
      <Pager label="API key pages" hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} />
      <ConfirmDialog open={revoking !== null} title={`Revoke the key ${revoking?.name ?? ''} (${revoking?.prefix ?? ''}…)?`} confirmLabel="Revoke key" danger busy={busy}
        error={revokeError} onConfirm={revoke} onCancel={() => setRevoking(null)}>
        <p>Every request made with this key is refused from now on (401). This cannot be undone.</p>
      </ConfirmDialog>
    </Section>
  );
}
