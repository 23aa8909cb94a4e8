// Lists (newsletters): each list with its subscription counts, create, rename, archive and restore, and
// the hosted subscription form's link and snippet. A thin view over /api/lists, /api/lists/counts and
// /api/lists/{id}/form: every rule (unique names, the default list, lists in use) is the server's.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { useSession } from '../session';
import {
  Button, ConfirmDialog, CopyButton, EmptyState, Loading, Notice, PageHeader, Section, Select, Table, TextInput, Textarea,
  errorMessage, formErrors, formatDate, formatNumber, useAsync, type FormErrors,
} from '../ui';
import './lists.css';

export interface List {
  id: string; name: string; description: string | null; isDefault: boolean; createdAt: string;
  visibility: 'public' | 'private'; archivedAt: string | null;
}
interface Counts { listId: string; subscribed: number; unconfirmed: number; unsubscribed: number }
interface Row extends List { counts: Counts | undefined }
interface Form { url: string; html: string }

type Dialog = { kind: 'rename'; list: List } | { kind: 'archive'; list: List } | { kind: 'restore'; list: List } | null;

async function loadLists(): Promise<Row[]> {
  const [lists, counts] = await Promise.all([api.get<Page<List>>('/api/lists'), api.get<Page<Counts>>('/api/lists/counts')]);
  const byList = new Map(counts.items.map((c) => [c.listId, c]));
  return lists.items.map((l) => ({ ...l, counts: byList.get(l.id) }));
}

function ListBadges({ list }: { list: List }) {
  return (
    <>
      {list.isDefault ? <span class="badge badge--ok">Default</span> : null}{' '}
      {list.archivedAt ? <span class="badge badge--warn">Archived</span> : null}{' '}
      {list.visibility === 'private' ? <span class="badge">Private</span> : null}
    </>
  );
}

export default function ListsPage() {
  const { canWrite, timeZone } = useSession();
  const lists = useAsync(loadLists, []);
  const [done, setDone] = useState<string | null>(null);
  const [dialog, setDialog] = useState<Dialog>(null);
  const [form, setForm] = useState<{ list: List; form?: Form; error?: string } | null>(null);

  async function showForm(list: List) {
    setForm({ list });
    try {
      setForm({ list, form: await api.get<Form>(`/api/lists/${list.id}/form`) });
    } catch (err) {
      setForm({ list, error: errorMessage(err) });
    }
  }

  const rows = lists.data ?? [];
  return (
    <>
      <PageHeader title="Lists" subtitle="Newsletters people subscribe to, with their counts and hosted sign-up forms." />
      {done ? <Notice kind="success">{done}</Notice> : null}
      {lists.error ? <Notice kind="error" title="The lists could not be loaded">{errorMessage(lists.error)}</Notice> : null}
      {lists.loading && !lists.data ? <Loading what="Loading lists" /> : null}
      {lists.data && rows.length === 0 ? <EmptyState title="No lists yet." /> : null}
      {rows.length > 0 ? (
        <div class="lists-table"><Table caption="Lists" rows={rows} rowKey={(l) => l.id}
          columns={[
            { label: 'Name', render: (l) => <><a href={`/console/contacts?listId=${l.id}`}>{l.name}</a> <ListBadges list={l} />
              {l.description ? <p class="hint">{l.description}</p> : null}</> },
            { label: 'Subscribed', numeric: true, render: (l) => formatNumber(l.counts?.subscribed ?? 0) },
            { label: 'Awaiting confirmation', numeric: true, render: (l) => formatNumber(l.counts?.unconfirmed ?? 0) },
            { label: 'Unsubscribed', numeric: true, render: (l) => formatNumber(l.counts?.unsubscribed ?? 0) },
            { label: 'Created', render: (l) => formatDate(l.createdAt, timeZone) },
            { label: 'Actions', hideLabel: true, render: (l) => (
              <div class="actions row-actions">
                {l.visibility === 'public' && !l.archivedAt
                  ? <Button onClick={() => showForm(l)} aria-label={`Form link of ${l.name}`}>Form link</Button> : null}
                {canWrite ? <Button onClick={() => setDialog({ kind: 'rename', list: l })} aria-label={`Rename ${l.name}`}>Rename</Button> : null}
                {canWrite && !l.isDefault && !l.archivedAt
                  ? <Button onClick={() => setDialog({ kind: 'archive', list: l })} aria-label={`Archive ${l.name}`}>Archive</Button> : null}
                {canWrite && l.archivedAt
                  ? <Button onClick={() => setDialog({ kind: 'restore', list: l })} aria-label={`Restore ${l.name}`}>Restore</Button> : null}
              </div>
            ) },
          ]} /></div>
      ) : null}

      {form ? <HostedForm list={form.list} form={form.form} error={form.error} onClose={() => setForm(null)} /> : null}
      {canWrite ? <NewList onCreated={(l) => { setDone(`List “${l.name}” created.`); void lists.reload(); }} /> : null}

      <RenameDialog list={dialog?.kind === 'rename' ? dialog.list : null} onClose={() => setDialog(null)}
        onDone={(l) => { setDialog(null); setDone(`List renamed to “${l.name}”.`); void lists.reload(); }} />
      <ArchiveDialog list={dialog?.kind === 'archive' || dialog?.kind === 'restore' ? dialog.list : null} onClose={() => setDialog(null)}
        onDone={(l) => { setDialog(null); setDone(`List “${l.name}” ${l.archivedAt ? 'archived' : 'restored'}.`); void lists.reload(); }} />
    </>
  );
}

function HostedForm({ list, form, error, onClose }: { list: List; form?: Form; error?: string; onClose: () => void }) {
  return (
    <Section title={`Hosted form of “${list.name}”`} id="hosted-form" actions={<Button onClick={onClose}>Close</Button>}>
      {error ? <Notice kind="error">{error}</Notice> : null}
      {!form && !error ? <Loading what="Loading the form" /> : null}
      {form ? (
        <div class="card list-form">
          <p>People subscribe on this page (double opt-in: they confirm by email).</p>
          <p class="secret"><a href={form.url} target="_blank" rel="noopener noreferrer"><code>{form.url}</code></a>
            <CopyButton text={form.url} label="Copy link" what={`of the ${list.name} form`} /></p>
          <Textarea label="HTML snippet for your website" value={form.html} onValue={() => {}} readOnly rows={8} class="mono"
            hint="A plain form posting to the hosted page; paste it into your site." />
          <CopyButton text={form.html} label="Copy snippet" what={`of the ${list.name} form`} />
        </div>
      ) : null}
    </Section>
  );
}

function NewList({ onCreated }: { onCreated: (l: List) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [visibility, setVisibility] = useState<'public' | 'private'>('public');
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const l = await api.post<List>('/api/lists', { name, description: description.trim() ? description : undefined, visibility });
      setName(''); setDescription(''); setVisibility('public');
      onCreated(l);
    } catch (err) {
      setErrors(formErrors(err, ['name', 'description', 'visibility']));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="New list" id="new-list">
      <form onSubmit={submit} aria-label="New list" noValidate>
        {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
        <TextInput label="Name" value={name} onValue={setName} required error={errors.name} maxLength={200} autoComplete="off" />
        <Textarea label="Description" value={description} onValue={setDescription} error={errors.description} rows={3}
          hint="Optional; shown on the preference page." />
        <Select label="Visibility" value={visibility} onValue={(v) => setVisibility(v === 'private' ? 'private' : 'public')} error={errors.visibility}
          options={[{ value: 'public', label: 'Public: on the preference page, with a hosted form' }, { value: 'private', label: 'Private: joined only through you' }]} />
        <Button type="submit" variant="primary" busy={busy}>Create list</Button>
      </form>
    </Section>
  );
}

/** The last non-null value: a closing dialog keeps showing what it showed while it closes. */
function useLast<T>(v: T | null): T | null {
  const last = useRef<T | null>(v);
  if (v !== null) last.current = v;
  return last.current;
}

function RenameDialog({ list, onClose, onDone }: { list: List | null; onClose: () => void; onDone: (l: List) => void }) {
  const shown = useLast(list);
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (list) { setName(list.name); setErrors({}); } }, [list]);
  async function confirm() {
    if (!list) return;
    setBusy(true);
    setErrors({});
    try {
      onDone(await api.patch<List>(`/api/lists/${list.id}`, { name }));
    } catch (err) {
      setErrors(formErrors(err, ['name']));
    } finally {
      setBusy(false);
    }
  }
  return (
    <ConfirmDialog open={list !== null} title={`Rename “${shown?.name ?? ''}”`} confirmLabel="Rename" busy={busy} error={errors._form}
      onConfirm={confirm} onCancel={onClose}>
      <TextInput label="New name" value={name} onValue={setName} required error={errors.name} maxLength={200} autoComplete="off" />
    </ConfirmDialog>
  );
}

function ArchiveDialog({ list, onClose, onDone }: { list: List | null; onClose: () => void; onDone: (l: List) => void }) {
  const shown = useLast(list);
  const archive = !shown?.archivedAt;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => { setError(null); }, [list]);
  async function confirm() {
    if (!list) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await api.patch<List>(`/api/lists/${list.id}`, { archived: archive }));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <ConfirmDialog open={list !== null} title={archive ? `Archive “${shown?.name ?? ''}”?` : `Restore “${shown?.name ?? ''}”?`}
      confirmLabel={archive ? 'Archive' : 'Restore'} danger={archive} busy={busy} error={error} onConfirm={confirm} onCancel={onClose}>
      <p>{archive
        ? 'An archived list takes no new subscribers and no campaigns. Its subscribers and their consent records are kept; you can restore it later.'
        : 'The list takes subscribers and campaigns again.'}</p>
    </ConfirmDialog>
  );
}
