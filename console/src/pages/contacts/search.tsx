// Contact search: part of the address or the name (GET /api/contacts?q=…, trigram-indexed on the
// server), by status and list; the filters live in the URL (?q=&status=&listId=) so a search can be
// bookmarked and the back button works.
import { useEffect, useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { api, withQuery, type Page } from '../../api';
import { useSession } from '../../session';
import {
  Button, EmptyState, Loading, Notice, PageHeader, Pager, Select, Table, TextInput, errorMessage, formatDate, useApiList, useAsync,
} from '../../ui';
import { fieldErrors } from '../../ui/query-errors';
import type { List } from '../lists';
import { CONTACT_STATUS_BADGE, CONTACT_STATUS_LABEL, type Contact, type ContactStatus } from './types';

const STATUSES = Object.keys(CONTACT_STATUS_LABEL) as ContactStatus[];
const isStatus = (s: string | undefined): s is ContactStatus => !!s && (STATUSES as string[]).includes(s);

export function ContactSearch() {
  const { timeZone } = useSession();
  const { query } = useRoute();
  const { route } = useLocation();
  const q = query.q ?? '';
  const status = isStatus(query.status) ? query.status : '';
  const listId = query.listId ?? '';
  const [text, setText] = useState(q);
  useEffect(() => { setText(q); }, [q]);
  const lists = useAsync(() => api.get<Page<List>>('/api/lists'), []);
  const results = useApiList<Contact>(withQuery('/api/contacts', { q, status, listId }), 25);
  const errors = results.error ? fieldErrors(results.error, ['q', 'status', 'listId']) : {};

  const go = (p: { q?: string; status?: string; listId?: string }) =>
    route(withQuery('/console/contacts', { q: p.q ?? q, status: p.status ?? status, listId: p.listId ?? listId }), true);
  const filtered = !!(q || status || listId);

  return (
    <>
      <PageHeader title="Contacts" subtitle="Search by part of the address or the name; open a contact for its timeline, consent and data." />
      <form class="filter-bar" role="search" aria-label="Search contacts" onSubmit={(e) => { e.preventDefault(); go({ q: text.trim() }); }}>
        <TextInput type="search" label="Address or name" value={text} onValue={setText} error={errors.q} maxLength={200}
          hint="Any part, e.g. “@example.org” or “schmidt”." autoComplete="off" />
        <Select label="Status" value={status} onValue={(v) => go({ status: v })} error={errors.status}
          options={[{ value: '', label: 'Any status' }, ...STATUSES.map((s) => ({ value: s, label: CONTACT_STATUS_LABEL[s] }))]} />
        <Select label="List" value={listId} onValue={(v) => go({ listId: v })} error={errors.listId}
          options={[{ value: '', label: 'Any list' }, ...(lists.data?.items ?? []).map((l) => ({ value: l.id, label: l.name }))]} />
        <div class="filter-actions">
          <Button type="submit" variant="primary">Search</Button>
          {filtered ? <Button onClick={() => route('/console/contacts', true)}>Clear</Button> : null}
        </div>
      </form>
      {results.error && errors._form ? <Notice kind="error" title="The contacts could not be loaded">{errorMessage(results.error)}</Notice> : null}
      {results.loading && results.items.length === 0 ? <Loading what="Searching" /> : null}
      {!results.loading && !results.error && results.items.length === 0
        ? <EmptyState title={filtered ? 'No contact matches.' : 'No contacts yet.'} /> : null}
      {results.items.length > 0 ? (
        <Table caption={filtered ? 'Matching contacts' : 'Contacts'} rows={results.items} rowKey={(c) => c.id}
          columns={[
            { label: 'Address', render: (c) => <a href={`/console/contacts/${c.id}`}>{c.email ?? '(erased)'}</a> },
            { label: 'Name', render: (c) => c.name ?? '' },
            { label: 'Status', render: (c) => <span class={CONTACT_STATUS_BADGE[c.status]}>{CONTACT_STATUS_LABEL[c.status]}</span> },
            { label: 'Lists', render: (c) => c.subscriptions.filter((s) => s.status !== 'unsubscribed').map((s) => s.listName).join(', ') },
            { label: 'Added', render: (c) => formatDate(c.createdAt, timeZone) },
          ]} />
      ) : null}
      <Pager hasPrev={results.hasPrev} nextCursor={results.nextCursor} onPrev={results.prev} onNext={results.next} busy={results.loading} label="Contact pages" />
    </>
  );
}
