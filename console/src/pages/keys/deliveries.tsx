// One endpoint's delivery log (newest first, each with its attempts) and replays: one event again, or
// every event of a time range.
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { useSession } from '../../session';
import { Button, EmptyState, Notice, Pager, Section, Table, TextInput, errorMessage, formErrors, formatDate, useApiList, type FormErrors } from '../../ui';
import type { Delivery, Endpoint } from './types';

const STATUS_BADGE: Record<Delivery['status'], string> = {
  delivered: 'badge--ok', pending: 'badge--warn', sending: 'badge--warn', failed: 'badge--bad', dropped: 'badge--bad',
};

function Attempts({ d, timeZone }: { d: Delivery; timeZone: string }) {
  if (d.attemptLog.length === 0) return <span class="muted">none yet</span>;
  return (
    <details>
      <summary>{d.attempts} attempt{d.attempts === 1 ? '' : 's'}</summary>
      <ol class="attempts">
        {d.attemptLog.map((a) => (
          <li key={a.attempt}>
            {formatDate(a.at, timeZone, { seconds: true })}: {a.statusCode !== null ? `HTTP ${a.statusCode}` : 'no answer'}
            {a.error ? ` (${a.error})` : ''}, {a.durationMs} ms
            {a.response ? <pre>{a.response}</pre> : null}
          </li>
        ))}
      </ol>
    </details>
  );
}

function ReplayRange({ endpoint, onDone }: { endpoint: Endpoint; onDone: (n: number) => void }) {
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});
  async function submit(e: Event) {
    e.preventDefault();
    const bad: FormErrors = {};
    if (!since) bad.since = 'Choose when the range starts.';
    if (!until) bad.until = 'Choose when the range ends.';
    if (bad.since || bad.until) { setErrors(bad); return; }
    setBusy(true);
    setErrors({});
    try {
      const r = await api.post<{ replayed: number }>(`/api/webhooks/${endpoint.id}/replay`, { since: new Date(since).toISOString(), until: new Date(until).toISOString() });
      onDone(r.replayed);
    } catch (err) {
      setErrors(formErrors(err, ['since', 'until', 'enabled']));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card" onSubmit={submit} noValidate aria-label="Replay a time range">
      <h3>Replay a time range</h3>
      <p class="hint">Every event of the endpoint's types in the range is delivered again (your time zone).</p>
      {errors._form || errors.enabled ? <Notice kind="error">{errors._form ?? errors.enabled}</Notice> : null}
      <div class="grid">
        <TextInput label="From" type="datetime-local" value={since} onValue={setSince} error={errors.since} />
        <TextInput label="Until (not included)" type="datetime-local" value={until} onValue={setUntil} error={errors.until} />
      </div>
      <Button type="submit" busy={busy}>Replay range</Button>
    </form>
  );
}

/** GET /api/webhooks/:id/deliveries, POST /api/webhooks/:id/replay. */
export function Deliveries({ endpoint, onClose }: { endpoint: Endpoint; onClose: () => void }) {
  const { canWrite, timeZone } = useSession();
  const list = useApiList<Delivery>(`/api/webhooks/${endpoint.id}/deliveries`);
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [replaying, setReplaying] = useState<string | null>(null);

  async function replayOne(d: Delivery) {
    setReplaying(d.id);
    setNotice(null);
    try {
      const r = await api.post<{ replayed: number }>(`/api/webhooks/${endpoint.id}/replay`, { eventId: d.eventId });
      setNotice({ kind: 'success', text: `Event ${d.eventId} is queued for delivery again (${r.replayed} delivery).` });
      await list.reload();
    } catch (err) {
      setNotice({ kind: 'error', text: errorMessage(err) });
    } finally {
      setReplaying(null);
    }
  }

  return (
    <Section id="deliveries" title={`Deliveries to ${endpoint.url}`} actions={<><Button onClick={() => void list.reload()} busy={list.loading}>Refresh</Button><Button onClick={onClose}>Close the log</Button></>}>
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : null}
      {!list.loading && !list.error && list.items.length === 0 && !list.hasPrev ? <EmptyState title="No deliveries yet." /> : (
        <Table<Delivery> caption={`Deliveries to ${endpoint.url}, newest first`} captionHidden rows={list.items} rowKey={(d) => d.id} columns={[
          { label: 'Event', render: (d) => <><code>{d.eventType ?? '(event gone)'}</code> <span class="muted">#{d.eventId}{d.replay ? `, replay ${d.replay}` : ''}</span></> },
          { label: 'Status', render: (d) => <span class={`badge ${STATUS_BADGE[d.status]}`}>{d.status}</span> },
          { label: 'Last answer', render: (d) => (d.lastStatusCode !== null ? `HTTP ${d.lastStatusCode}` : '') + (d.lastError ? ` ${d.lastError}` : '') },
          { label: 'Attempts', render: (d) => <Attempts d={d} timeZone={timeZone} /> },
          { label: 'Created', render: (d) => formatDate(d.createdAt, timeZone, { seconds: true }) },
          { label: 'Next attempt', render: (d) => formatDate(d.nextAttemptAt, timeZone, { seconds: true }) },
          { label: 'Actions', hideLabel: true, render: (d) => (canWrite && endpoint.enabled
            ? <Button onClick={() => replayOne(d)} busy={replaying === d.id} aria-label={`Replay event ${d.eventId}`}>Replay</Button> : null) },
        ]} />
      )}
      <Pager label="Delivery pages" hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} />
      {canWrite && endpoint.enabled ? <ReplayRange endpoint={endpoint} onDone={(n) => { setNotice({ kind: 'success', text: `${n} event${n === 1 ? '' : 's'} queued for delivery again.` }); void list.reload(); }} /> : null}
    </Section>
  );
}
