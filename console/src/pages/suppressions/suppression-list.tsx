// Suppressions: filtered and paged (GET /api/suppressions; address, scope and reason in the URL so the
// contact page can link here), added by hand (POST), removed with a required reason (DELETE
// /api/suppressions/{address}?scope=…). Removing never re-subscribes anyone: the server's rule, said here.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, withQuery } from '../../api';
import { useSession } from '../../session';
import {
  Button, ConfirmDialog, EmptyState, Field, Loading, Notice, Pager, Section, Select, Table, TextInput, Textarea, errorMessage, formErrors,
  formatDate, useApiList, type FormErrors,
} from '../../ui';
import { fieldErrors } from '../../ui/query-errors';
import { whoLabel, type Suppression } from '../contacts/types';

type Scope = 'all' | 'marketing';
const SCOPE_LABEL: Record<Scope, string> = { all: 'All mail', marketing: 'Marketing only' };
const isScope = (s: string | undefined): s is Scope => s === 'all' || s === 'marketing';

interface Removal {
  address: string; removed: Suppression[]; kept: Suppression[];
  contact: { id: string; status: string; previousStatus: string } | null;
}

/** The last non-null value: a closing dialog keeps showing what it showed. */
function useLast<T>(v: T | null): T | null {
  const last = useRef<T | null>(v);
  if (v !== null) last.current = v;
  return last.current;
}

export function SuppressionList() {
  const { canWrite, can, timeZone } = useSession();
  const writable = canWrite && can('subscribers');
  const { query } = useRoute();
  const { route, path } = useLocation();
  const address = query.address ?? '';
  const scope = isScope(query.scope) ? query.scope : '';
  const reason = query.reason ?? '';
  const [text, setText] = useState({ address, reason });
  useEffect(() => { setText({ address, reason }); }, [address, reason]);
  const list = useApiList<Suppression>(withQuery('/api/suppressions', { address, scope, reason }), 25);
  const errors = list.error ? fieldErrors(list.error, ['address', 'scope', 'reason']) : {};
  const [done, setDone] = useState<string | null>(null);
  const [removing, setRemoving] = useState<Suppression | null>(null);

  const go = (p: { address?: string; scope?: string; reason?: string }) =>
    route(withQuery(path, { address: p.address ?? address, scope: p.scope ?? scope, reason: p.reason ?? reason }), true);
  const filtered = !!(address || scope || reason);

  return (
    <Section title="Suppressions" id="suppressions">
      <p class="muted">Addresses no mail (or no marketing mail) goes to: hard bounces, complaints, erasures and manual entries.</p>
      {done ? <Notice kind="success">{done}</Notice> : null}
      <form class="filter-bar" role="search" aria-label="Filter suppressions"
        onSubmit={(e) => { e.preventDefault(); go({ address: text.address.trim(), reason: text.reason.trim() }); }}>
        <TextInput type="search" label="Address" value={text.address} onValue={(v) => setText({ ...text, address: v })} error={errors.address}
          hint="The whole address (any case)." maxLength={320} autoComplete="off" />
        <Select label="Scope" value={scope} onValue={(v) => go({ scope: v })} error={errors.scope}
          options={[{ value: '', label: 'Any scope' }, { value: 'all', label: SCOPE_LABEL.all }, { value: 'marketing', label: SCOPE_LABEL.marketing }]} />
        <TextInput label="Reason" value={text.reason} onValue={(v) => setText({ ...text, reason: v })} error={errors.reason}
          hint="e.g. hard_bounce, complaint, manual." maxLength={40} autoComplete="off" />
        <div class="filter-actions">
          <Button type="submit" variant="primary">Filter</Button>
          {filtered ? <Button onClick={() => route(path, true)}>Clear</Button> : null}
        </div>
      </form>
      {list.error && errors._form ? <Notice kind="error" title="The suppressions could not be loaded">{errors._form}</Notice> : null}
      {list.loading && list.items.length === 0 ? <Loading what="Loading suppressions" /> : null}
      {!list.loading && !list.error && list.items.length === 0
        ? <EmptyState title={filtered ? 'No suppression matches.' : 'No suppressions.'} /> : null}
      {list.items.length > 0 ? (
        <Table caption={filtered ? 'Matching suppressions' : 'Suppressions'} rows={list.items} rowKey={(s) => s.id}
          columns={[
            { label: 'Address', render: (s) => s.address ?? <span class="muted">(erased: only a hash is kept)</span> },
            { label: 'Scope', render: (s) => SCOPE_LABEL[s.scope] },
            { label: 'Reason', render: (s) => s.reason },
            { label: 'Source', render: (s) => whoLabel(s.source.type, s.createdBy) },
            { label: 'Since', render: (s) => formatDate(s.createdAt, timeZone) },
            { label: 'Note', render: (s) => s.note ?? '' },
            { label: 'Actions', hideLabel: true, render: (s) => (writable && s.address && s.reason !== 'erased'
              ? <Button onClick={() => setRemoving(s)} aria-label={`Remove the suppression of ${s.address} (${SCOPE_LABEL[s.scope]})`}>Remove</Button>
              : null) },
          ]} />
      ) : null}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Suppression pages" />
      <RemoveDialog suppression={removing} onClose={() => setRemoving(null)}
        onDone={(r) => {
          setRemoving(null);
          const back = r.contact && r.contact.status !== r.contact.previousStatus ? ` The contact is ${r.contact.status} again (subscriptions unchanged).` : '';
          const kept = r.kept.length ? ` Kept: ${r.kept.map((k) => `${k.reason} (${SCOPE_LABEL[k.scope]})`).join(', ')}.` : '';
          setDone(`Removed ${r.removed.length} suppression${r.removed.length === 1 ? '' : 's'} of ${r.address}.${back}${kept}`);
          void list.reload();
        }} />
      {writable ? <AddSuppression onAdded={(s) => {
        setDone(`${s.address ?? 'The address'} is suppressed (${SCOPE_LABEL[s.scope].toLowerCase()}).`);
        void list.reload();
      }} /> : null}
    </Section>
  );
}

function RemoveDialog({ suppression, onClose, onDone }: { suppression: Suppression | null; onClose: () => void; onDone: (r: Removal) => void }) {
  const shown = useLast(suppression);
  const [reason, setReason] = useState('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (suppression) { setReason(''); setErrors({}); } }, [suppression]);

  async function confirm() {
    if (!suppression?.address) return;
    setBusy(true);
    setErrors({});
    try {
      const path = withQuery(`/api/suppressions/${encodeURIComponent(suppression.address)}`, { scope: suppression.scope });
      onDone(await api.del<Removal>(path, { reason }));
    } catch (err) {
      setErrors(fieldErrors(err, ['reason']));
    } finally {
      setBusy(false);
    }
  }

  return (
    <ConfirmDialog open={suppression !== null} title={`Remove the suppression of ${shown?.address ?? ''}?`} confirmLabel="Remove suppression"
      danger busy={busy} error={errors._form} onConfirm={confirm} onCancel={onClose}>
      <p>Mail to this address ({shown ? SCOPE_LABEL[shown.scope].toLowerCase() : ''}) may be tried again. Nobody is re-subscribed:
        lists they left stay left.</p>
      {/* required is marked (aria-required) but not enforced by the browser: the server says what is missing, next to the field */}
      <Field label="Reason for the removal" error={errors.reason} required
        hint="Kept in the contact's consent records, e.g. “bounced by mistake: the mailbox exists (ticket 4711)”.">
        {(a) => <textarea {...a} rows={3} maxLength={1000} value={reason} onInput={(e) => setReason(e.currentTarget.value)} />}
      </Field>
    </ConfirmDialog>
  );
}

function AddSuppression({ onAdded }: { onAdded: (s: Suppression) => void }) {
  const [address, setAddress] = useState('');
  const [scope, setScope] = useState<Scope>('all');
  const [reason, setReason] = useState('manual');
  const [note, setNote] = useState('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      const s = await api.post<Suppression>('/api/suppressions', { address, scope, reason, note: note.trim() ? note : undefined });
      setAddress(''); setNote('');
      onAdded(s);
    } catch (err) {
      const f = formErrors(err, ['address', 'scope', 'reason', 'note']);
      setErrors(f);
      if (f._form) setError(f._form);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card subform" onSubmit={submit} aria-label="Suppress an address" noValidate>
      <h3>Suppress an address</h3>
      {error ? <Notice kind="error">{errorMessage(error)}</Notice> : null}
      <TextInput type="email" label="Address" value={address} onValue={setAddress} error={errors.address} required maxLength={320} autoComplete="off" />
      <Select label="Scope" value={scope} onValue={(v) => setScope(v === 'marketing' ? 'marketing' : 'all')} error={errors.scope}
        options={[{ value: 'all', label: 'All mail' }, { value: 'marketing', label: 'Marketing only' }]} />
      <TextInput label="Reason" value={reason} onValue={setReason} error={errors.reason} required maxLength={40}
        hint="A short token such as manual or legal_request; put free text in the note." autoComplete="off" />
      <Textarea label="Note" value={note} onValue={setNote} error={errors.note} rows={2} maxLength={1000} />
      <Button type="submit" variant="primary" busy={busy}>Suppress</Button>
    </form>
  );
}
