// Bounces, complaints and auto-replies (GET /api/bounces, admin scope): filtered by kind, reason and
// recipient, paged; the raw report (GET /api/bounces/{id}/raw) shown as plain text in a <pre>, never
// rendered as HTML (it is mail from outside).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, isApiFailure, withQuery } from '../../api';
import { useSession } from '../../session';
import { Button, EmptyState, Loading, Notice, Pager, Section, Select, Table, TextInput, formatDate, useApiList } from '../../ui';
import { fieldErrors } from '../../ui/query-errors';

export interface Bounce {
  id: string; messageId: string | null; contactId: string | null; campaignId: string | null; kind: string; source: string; matchedBy: string;
  status: string | null; reason: string | null; diagnostic: string | null; recipient: string | null; feedbackType: string | null;
  action: string | null; rawKept: boolean; rawWithheld: string | null; rawExpiresAt: string | null; receivedAt: string;
}

const KINDS = ['hard', 'soft', 'blocked', 'complaint', 'feedback', 'autoreply', 'unknown'] as const;
const KIND_BADGE: Record<string, string> = { hard: 'badge badge--bad', complaint: 'badge badge--bad', soft: 'badge badge--warn', blocked: 'badge badge--warn' };

type Raw = { bounce: Bounce; text?: string; error?: string };

export function BounceList() {
  const { timeZone } = useSession();
  const [filters, setFilters] = useState({ kind: '', reason: '', recipient: '' });
  const [text, setText] = useState({ reason: '', recipient: '' });
  const list = useApiList<Bounce>(withQuery('/api/bounces', filters), 25);
  const errors = list.error ? fieldErrors(list.error, ['kind', 'reason', 'recipient']) : {};
  const [raw, setRaw] = useState<Raw | null>(null);
  const rawHeading = useRef<HTMLHeadingElement>(null);
  const opener = useRef<HTMLElement | null>(null);
  const filtered = !!(filters.kind || filters.reason || filters.recipient);

  useEffect(() => { if (raw) rawHeading.current?.focus(); }, [raw?.bounce.id]);

  async function showRaw(b: Bounce) {
    opener.current = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setRaw({ bounce: b });
    try {
      setRaw({ bounce: b, text: await api.text(`/api/bounces/${b.id}/raw`) });
    } catch (err) {
      setRaw({ bounce: b, error: isApiFailure(err) ? err.message : String(err) });
    }
  }
  function closeRaw() {
    setRaw(null);
    const back = opener.current;
    opener.current = null;
    if (back?.isConnected) back.focus();
  }

  return (
    <Section title="Bounces and complaints" id="bounces">
      <form class="filter-bar" role="search" aria-label="Filter bounces"
        onSubmit={(e) => { e.preventDefault(); setFilters({ ...filters, reason: text.reason.trim(), recipient: text.recipient.trim() }); }}>
        <Select label="Kind" value={filters.kind} onValue={(v) => setFilters({ ...filters, kind: v })} error={errors.kind}
          options={[{ value: '', label: 'Any kind' }, ...KINDS.map((k) => ({ value: k, label: k }))]} />
        <TextInput label="Reason" value={text.reason} onValue={(v) => setText({ ...text, reason: v })} error={errors.reason}
          hint="e.g. userunknown, mailboxfull, spamdetected." maxLength={40} autoComplete="off" />
        <TextInput type="search" label="Recipient" value={text.recipient} onValue={(v) => setText({ ...text, recipient: v })} error={errors.recipient}
          hint="The whole address." maxLength={320} autoComplete="off" />
        <div class="filter-actions">
          <Button type="submit" variant="primary">Filter</Button>
          {filtered ? <Button onClick={() => { setFilters({ kind: '', reason: '', recipient: '' }); setText({ reason: '', recipient: '' }); }}>Clear</Button> : null}
        </div>
      </form>
      {list.error && errors._form ? <Notice kind="error" title="The bounces could not be loaded">{errors._form}</Notice> : null}
      {list.loading && list.items.length === 0 ? <Loading what="Loading bounces" /> : null}
      {!list.loading && !list.error && list.items.length === 0 ? <EmptyState title={filtered ? 'No bounce matches.' : 'No bounces recorded.'} /> : null}
      {list.items.length > 0 ? (
        <Table caption={filtered ? 'Matching bounces' : 'Bounces'} rows={list.items} rowKey={(b) => b.id}
          columns={[
            { label: 'Received', render: (b) => formatDate(b.receivedAt, timeZone) },
            { label: 'Recipient', render: (b) => (b.contactId
              ? <a href={`/console/contacts/${b.contactId}`}>{b.recipient ?? 'contact'}</a> : b.recipient ?? <span class="muted">unknown</span>) },
            { label: 'Kind', render: (b) => <span class={KIND_BADGE[b.kind] ?? 'badge'}>{b.kind}</span> },
            { label: 'Reason', render: (b) => <>{b.reason ?? ''}{b.status ? <span class="muted"> {b.status}</span> : null}</> },
            { label: 'What it did', render: (b) => b.action ?? '' },
            { label: 'Diagnostic', render: (b) => <span class="diag">{b.diagnostic ?? ''}</span> },
            { label: 'Raw report', render: (b) => (b.rawKept
              ? <Button onClick={() => showRaw(b)} aria-label={`View the raw report of ${b.recipient ?? 'this bounce'} (${formatDate(b.receivedAt, timeZone)})`}>View</Button>
              : <span class="muted">{b.rawWithheld ? `withheld (${b.rawWithheld})` : 'not kept'}</span>) },
          ]} />
      ) : null}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Bounce pages" />
      {raw ? (
        <section class="raw-report card" aria-labelledby="raw-h">
          <div class="section-head">
            <h3 id="raw-h" ref={rawHeading} tabIndex={-1}>Raw report: {raw.bounce.recipient ?? 'unknown recipient'}, {formatDate(raw.bounce.receivedAt, timeZone)}</h3>
            <Button onClick={closeRaw}>Close report</Button>
          </div>
          {raw.error ? <Notice kind="error">{raw.error}</Notice> : null}
          {raw.text === undefined && !raw.error ? <Loading what="Loading the report" /> : null}
          {raw.text !== undefined ? <pre class="raw" tabIndex={0} aria-label="Raw report text">{raw.text}</pre> : null}
        </section>
      ) : null}
    </Section>
  );
}
