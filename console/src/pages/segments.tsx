// Segments: the saved segments, and a builder (conditions as rows joined by AND or OR, each optionally
// negated; a filter with nested groups is edited as JSON) with a live count: the filter is posted to
// /api/segments/count after each pause in typing, and the server's fault shows at the condition it
// names. Save, edit and delete go to /api/segments. Every rule of the filter language is the server's.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, isApiFailure, type Page } from '../api';
import { useSession } from '../session';
import {
  Button, ConfirmDialog, EmptyState, Loading, Notice, PageHeader, Section, Table, TextInput, Textarea,
  errorMessage, formatDate, formatNumber, useAsync,
} from '../ui';
import { ConditionBuilder, type ListOption, type RowFaults } from './segments/builder';
import { describeFilter, faultText, filterOf, modelOf, placeOf, rowComplete, type AttributeName, type Model, type Segment } from './segments/types';
import './segments.css';

/** The pause after the last change before the count is asked for (ms). */
const COUNT_DELAY_MS = 400;
/** A count refused as too many at once (429) is asked for again after this long, a few times. */
const RETRY_MS = 1000;

interface Draft { id: string | null; name: string; model: Model | null; json: string }
type CountState = { state: 'counting' } | { state: 'done'; count: number } | { state: 'invalid'; message: string } | { state: 'error'; message: string };

const newDraft = (): Draft => ({ id: null, name: '', model: { match: 'all', rows: [] }, json: '' });
const draftOf = (s: Segment): Draft => ({ id: s.id, name: s.name, model: modelOf(s.filter), json: JSON.stringify(s.filter, null, 2) });

/** The draft's filter, or undefined when its JSON does not parse. */
function filterOfDraft(d: Draft): unknown {
  if (d.model) return filterOf(d.model);
  try { return JSON.parse(d.json) as unknown; } catch { return undefined; }
}

export default function SegmentsPage() {
  const { canWrite, timeZone } = useSession();
  const segments = useAsync(() => api.get<Page<Segment>>('/api/segments'), []);
  const lists = useAsync(() => api.get<Page<ListOption & { archivedAt: string | null }>>('/api/lists'), []);
  const attributes = useAsync(() => api.get<Page<AttributeName>>('/api/segments/attributes'), []);
  const [draft, setDraft] = useState<Draft>(newDraft);
  const [count, setCount] = useState<CountState>({ state: 'counting' });
  const [faults, setFaults] = useState<RowFaults>({});
  const [filterError, setFilterError] = useState<string | null>(null);
  const [nameError, setNameError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<{ segment: Segment; busy: boolean; error: string | null } | null>(null);
  const nameRef = useRef<HTMLDivElement>(null);

  const filter = useMemo(() => filterOfDraft(draft), [draft.model, draft.json]);
  const filterKey = JSON.stringify(filter) ?? '';

  /** Shows an invalid_segment fault at its row and part, or over the whole filter. */
  function showFault(field: string | null, message: string) {
    const at = placeOf(field);
    if (draft.model && at.row !== null) { setFaults({ [at.row]: { [at.part ?? '']: faultText(message) } }); setFilterError(null); }
    else { setFaults({}); setFilterError(message); }
  }

  // The live count: after a pause, the latest filter only; a 429 (too many counts at once) is retried.
  useEffect(() => {
    if (filter === undefined) { setCount({ state: 'invalid', message: 'The filter is not valid JSON.' }); setFilterError('Not valid JSON.'); return; }
    // An unfinished condition is not counted (the server would refuse it): wait until every row is filled in.
    if (draft.model && !draft.model.rows.every(rowComplete)) {
      setCount({ state: 'invalid', message: 'Complete every condition to see the count.' }); setFaults({}); setFilterError(null);
      return;
    }
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout>;
    setCount({ state: 'counting' });
    const run = async (attempt: number) => {
      try {
        const r = await api.post<{ count: number }>('/api/segments/count', { filter });
        if (cancelled) return;
        setCount({ state: 'done', count: r.count }); setFaults({}); setFilterError(null);
      } catch (err) {
        if (cancelled) return;
        if (isApiFailure(err) && err.status === 429 && attempt < 5) { timer = setTimeout(() => void run(attempt + 1), RETRY_MS); return; }
        if (isApiFailure(err) && err.field?.startsWith('filter')) {
          showFault(err.field, err.message);
          setCount({ state: 'invalid', message: 'No count until the condition marked is fixed.' });
        } else {
          setCount({ state: 'error', message: errorMessage(err) });
        }
      }
    };
    timer = setTimeout(() => void run(0), COUNT_DELAY_MS);
    return () => { cancelled = true; clearTimeout(timer); };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filterKey]);

  function edit(d: Draft) {
    setDraft(d); setNameError(null); setFormError(null); setDone(null); setFaults({}); setFilterError(null);
    nameRef.current?.querySelector('input')?.focus();
  }

  async function save(e: Event) {
    e.preventDefault();
    if (filter === undefined) return;
    setSaving(true); setNameError(null); setFormError(null); setDone(null);
    try {
      const body = { name: draft.name, filter };
      const s = draft.id ? await api.patch<Segment>(`/api/segments/${draft.id}`, body) : await api.post<Segment>('/api/segments', body);
      setDone(`Segment “${s.name}” saved.`);
      setDraft({ ...draft, id: s.id, name: s.name });
      void segments.reload();
    } catch (err) {
      const field = isApiFailure(err) ? err.field : null;
      if (field === 'name') setNameError(errorMessage(err));
      else if (isApiFailure(err) && field?.startsWith('filter')) showFault(field, err.message);
      else setFormError(errorMessage(err));
    } finally {
      setSaving(false);
    }
  }

  async function remove() {
    if (!deleting) return;
    setDeleting({ ...deleting, busy: true, error: null });
    try {
      await api.del(`/api/segments/${deleting.segment.id}`);
      setDone(`Segment “${deleting.segment.name}” deleted.`);
      if (draft.id === deleting.segment.id) setDraft(newDraft());
      setDeleting(null);
      void segments.reload();
    } catch (err) {
      setDeleting({ ...deleting, busy: false, error: errorMessage(err) });
    }
  }

  const listOptions = (lists.data?.items ?? []).filter((l) => !l.archivedAt || draft.model?.rows.some((r) => r.list === l.id));
  const listName = (id: string) => lists.data?.items.find((l) => l.id === id)?.name ?? 'a deleted list';
  const rows = segments.data?.items ?? [];
  const parsedModel = draft.model ? null : modelOf((filter ?? {}) as Record<string, unknown>);

  return (
    <div class="segments-page">
      <PageHeader title="Segments" subtitle="Saved filters over your contacts, for narrowing a campaign's audience."
        actions={canWrite ? <Button variant="primary" onClick={() => edit(newDraft())}>New segment</Button> : undefined} />
      {done ? <Notice kind="success">{done}</Notice> : null}

      <Section title="Saved segments" id="segments-list">
        {segments.error ? <Notice kind="error" title="The segments could not be loaded">{errorMessage(segments.error)}</Notice> : null}
        {segments.loading && !segments.data ? <Loading what="Loading segments" /> : null}
        {segments.data && rows.length === 0 ? <EmptyState title="No segments yet." /> : null}
        {rows.length > 0 ? (
          <Table<Segment> caption="Saved segments" captionHidden rows={rows} rowKey={(s) => s.id}
            columns={[
              { label: 'Name', render: (s) => s.name },
              { label: 'Conditions', render: (s) => describeFilter(s.filter, listName) },
              { label: 'Changed', render: (s) => formatDate(s.updatedAt, timeZone) },
              { label: 'Actions', hideLabel: true, render: (s) => (
                <div class="actions">
                  <Button onClick={() => edit(draftOf(s))} aria-label={`${canWrite ? 'Edit' : 'Open'} ${s.name}`}>{canWrite ? 'Edit' : 'Open'}</Button>
                  {canWrite ? <Button variant="danger" onClick={() => setDeleting({ segment: s, busy: false, error: null })} aria-label={`Delete ${s.name}`}>Delete</Button> : null}
                </div>
              ) },
            ]} />
        ) : null}
      </Section>

      <Section title={draft.id ? `Edit “${draft.name}”` : 'New segment'} id="segment-builder">
        <form class="segment-form" onSubmit={save} aria-label="Segment" noValidate>
          <div class="live-count card" role="status" aria-live="polite">
            {count.state === 'counting' ? <span>Counting…</span> : null}
            {count.state === 'done' ? <span><strong class="count-figure">{formatNumber(count.count)}</strong> {count.count === 1 ? 'contact matches' : 'contacts match'} now.</span> : null}
            {count.state === 'invalid' ? <span>{count.message}</span> : null}
            {count.state === 'error' ? <span class="field-error">The count failed: {count.message}</span> : null}
          </div>
          {canWrite ? (
            <div ref={nameRef}>
              <TextInput label="Name" required value={draft.name} maxLength={200} onValue={(v) => setDraft({ ...draft, name: v })} error={nameError}
                hint="Unique among your segments." />
            </div>
          ) : null}
          {draft.model ? (
            <>
              {filterError ? <p class="field-error" role="alert">{filterError}</p> : null}
              <ConditionBuilder model={draft.model} onChange={(m) => setDraft({ ...draft, model: m })} faults={faults}
                attributes={attributes.data?.items ?? []} lists={listOptions} />
              <p><Button variant="link" onClick={() => setDraft({ ...draft, model: null, json: JSON.stringify(filter, null, 2) })}>Edit as JSON</Button></p>
            </>
          ) : (
            <>
              <Textarea label="Filter (JSON)" value={draft.json} rows={10} class="mono" onValue={(v) => setDraft({ ...draft, json: v })} error={filterError}
                hint={'Groups nest: {"all": […]}, {"any": […]}, {"not": …}. The README\'s Segments section lists every condition.'} />
              {parsedModel ? <p><Button variant="link" onClick={() => setDraft({ ...draft, model: parsedModel })}>Back to the condition rows</Button></p> : null}
            </>
          )}
          {formError ? <Notice kind="error" title="The segment could not be saved">{formError}</Notice> : null}
          {canWrite ? (
            <div class="actions">
              <Button type="submit" variant="primary" busy={saving} busyLabel="Saving…" disabled={filter === undefined}>{draft.id ? 'Save changes' : 'Save segment'}</Button>
              {draft.id ? <Button onClick={() => edit(newDraft())}>Start a new one</Button> : null}
            </div>
          ) : null}
        </form>
      </Section>

      <ConfirmDialog open={deleting !== null} title={`Delete the segment “${deleting?.segment.name ?? ''}”?`} confirmLabel="Delete segment" danger
        busy={deleting?.busy} error={deleting?.error} onConfirm={() => void remove()} onCancel={() => setDeleting(null)}>
        <p>Its filter is lost. A segment a campaign uses cannot be deleted.</p>
      </ConfirmDialog>
    </div>
  );
}
