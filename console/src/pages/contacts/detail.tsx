// One contact: profile, subscriptions (add with the consent wording, remove = an opt-out), suppression
// state, the consent proof (every record with the wording shown), the timeline, and the person's data
// rights (export as a JSON download, erasure), each change behind a confirmation dialog.
import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, withQuery, type Page } from '../../api';
import { useSession } from '../../session';
import {
  Button, ConfirmDialog, Loading, Notice, PageHeader, Section, Select, Table, Textarea, errorMessage, formErrors, formatDate,
  useAsync, type FormErrors,
} from '../../ui';
import type { List } from '../lists';
import { Timeline } from './timeline';
import {
  ACTION_LABEL, whoLabel, CONTACT_STATUS_BADGE, CONTACT_STATUS_LABEL, SUBSCRIPTION_LABEL, type ConsentRecord, type Contact, type Subscription,
  type Suppression,
} from './types';

/** The last non-null value: a closing dialog keeps showing what it showed. */
function useLast<T>(v: T | null): T | null {
  const last = useRef<T | null>(v);
  if (v !== null) last.current = v;
  return last.current;
}

/** Saves `text` as a file through a temporary object URL (no server round trip beyond the API call). */
function download(text: string, filename: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ContactDetail({ id }: { id: string }) {
  const { can, canWrite, timeZone } = useSession();
  const writable = canWrite && can('subscribers');
  const contact = useAsync(() => api.get<Contact>(`/api/contacts/${id}`), [id]);
  const [done, setDone] = useState<string | null>(null);
  const [version, setVersion] = useState(0); // bumps after a change: the sections below reload
  const c = contact.data;

  const changed = (message: string, next?: Contact) => {
    setDone(message);
    if (next) contact.setData(next); else void contact.reload();
    setVersion((v) => v + 1);
  };

  if (contact.error) {
    return (
      <>
        <PageHeader title="Contact" />
        <Notice kind="error" title="The contact could not be loaded">{errorMessage(contact.error)}</Notice>
        <p><a href="/console/contacts">Back to the contacts</a></p>
      </>
    );
  }
  if (!c) return <><PageHeader title="Contact" /><Loading what="Loading the contact" /></>;

  return (
    <>
      <PageHeader title={c.email ?? 'Erased contact'}
        subtitle={<>{c.name ? `${c.name} · ` : ''}<span class={CONTACT_STATUS_BADGE[c.status]}>{CONTACT_STATUS_LABEL[c.status]}</span></>}
        actions={<a href="/console/contacts">All contacts</a>} />
      {done ? <Notice kind="success">{done}</Notice> : null}

      <Section title="Profile" id="profile">
        <dl class="facts card">
          <dt>Status</dt><dd>{CONTACT_STATUS_LABEL[c.status]}</dd>
          <dt>Name</dt><dd>{c.name ?? '—'}</dd>
          <dt>Added</dt><dd>{formatDate(c.createdAt, timeZone)}</dd>
          <dt>Address verified</dt><dd>{c.verifiedAt ? formatDate(c.verifiedAt, timeZone) : 'Not yet'}</dd>
          <dt>Language</dt><dd>{c.locale ?? 'Browser or tenant default'}</dd>
          {Object.entries(c.attributes).map(([k, v]) => <Fragment key={k}><dt>{k}</dt><dd>{typeof v === 'string' ? v : JSON.stringify(v)}</dd></Fragment>)}
        </dl>
      </Section>

      <Subscriptions contact={c} writable={writable && c.status !== 'erased'} onChanged={changed} />
      {c.email ? <SuppressionState address={c.email} version={version} /> : null}
      <ConsentProof contactId={c.id} version={version} />
      <Section title="Timeline" id="timeline"><Timeline key={version} contactId={c.id} /></Section>
      {c.status !== 'erased' ? <DataRights contact={c} writable={writable} onErased={(m) => changed(m)} /> : null}
    </>
  );
}

function Subscriptions({ contact, writable, onChanged }: { contact: Contact; writable: boolean; onChanged: (m: string, c?: Contact) => void }) {
  const { timeZone } = useSession();
  const [removing, setRemoving] = useState<Subscription | null>(null);
  const shown = useLast(removing);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function remove() {
    if (!removing) return;
    setBusy(true);
    setError(null);
    try {
      const next = await api.del<Contact>(`/api/contacts/${contact.id}/subscriptions/${removing.listId}`);
      setRemoving(null);
      onChanged(`Unsubscribed from “${removing.listName}”.`, next);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="Subscriptions" id="subscriptions">
      <Table caption="Subscriptions" captionHidden rows={contact.subscriptions} rowKey={(s) => s.listId} empty="Not on any list."
        columns={[
          { label: 'List', render: (s) => s.listName },
          { label: 'Status', render: (s) => <span class={s.status === 'subscribed' ? 'badge badge--ok' : s.status === 'unconfirmed' ? 'badge badge--warn' : 'badge'}>{SUBSCRIPTION_LABEL[s.status]}</span> },
          { label: 'Since', render: (s) => formatDate(s.updatedAt, timeZone) },
          { label: 'Actions', hideLabel: true, render: (s) => (writable && s.status !== 'unsubscribed'
            ? <Button onClick={() => { setError(null); setRemoving(s); }} aria-label={`Unsubscribe from ${s.listName}`}>Unsubscribe</Button> : null) },
        ]} />
      {writable ? <AddSubscription contact={contact} onAdded={onChanged} /> : null}
      <ConfirmDialog open={removing !== null} title={`Unsubscribe from “${shown?.listName ?? ''}”?`} confirmLabel="Unsubscribe" danger
        busy={busy} error={error} onConfirm={remove} onCancel={() => setRemoving(null)}>
        <p>This records an opt-out from the list (source: API, by you). Their other lists are not touched.</p>
      </ConfirmDialog>
    </Section>
  );
}

function AddSubscription({ contact, onAdded }: { contact: Contact; onAdded: (m: string, c?: Contact) => void }) {
  const lists = useAsync(() => api.get<Page<List>>('/api/lists'), []);
  const subscribed = new Set(contact.subscriptions.filter((s) => s.status !== 'unsubscribed').map((s) => s.listId));
  const open = (lists.data?.items ?? []).filter((l) => !l.archivedAt && !subscribed.has(l.id));
  const [listId, setListId] = useState('');
  const [wording, setWording] = useState('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => { if (!open.some((l) => l.id === listId)) setListId(open[0]?.id ?? ''); }, [open.map((l) => l.id).join()]);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const r = await api.post<Contact & { activation: { messageId: string } | null }>(`/api/contacts/${contact.id}/subscriptions`,
        { listIds: listId ? [listId] : [], consent: { text: wording, source: 'console' } });
      const { activation: sent, ...next } = r;
      setWording('');
      onAdded(sent ? 'Opt-in recorded: a confirmation email was sent; the subscription starts when they confirm.' : 'Opt-in recorded.', next);
    } catch (err) {
      setErrors(formErrors(err, ['listIds', 'consent.text']));
    } finally {
      setBusy(false);
    }
  }

  if (lists.data && open.length === 0) return null;
  return (
    <form class="card subform" onSubmit={submit} aria-label="Add to a list" noValidate>
      <h3>Add to a list</h3>
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <Select label="List" value={listId} onValue={setListId} error={errors.listIds} required
        options={open.map((l) => ({ value: l.id, label: l.name }))} />
      <Textarea label="Consent wording" value={wording} onValue={setWording} error={errors['consent.text']} required rows={3}
        hint="What the person agreed to, word for word (kept as proof). They get a confirmation email (double opt-in)." />
      <Button type="submit" variant="primary" busy={busy}>Add to list</Button>
    </form>
  );
}

function SuppressionState({ address, version }: { address: string; version: number }) {
  const { timeZone } = useSession();
  const s = useAsync(() => api.get<Page<Suppression>>(withQuery('/api/suppressions', { address, limit: 10 })), [address, version]);
  return (
    <Section title="Suppression" id="suppression">
      {s.error ? <Notice kind="error">{errorMessage(s.error)}</Notice> : null}
      {!s.data && !s.error ? <Loading what="Loading the suppression state" /> : null}
      {s.data && s.data.items.length === 0 ? <p>Not suppressed: mail to this address may be sent.</p> : null}
      {s.data && s.data.items.length > 0 ? (
        <>
          <Table caption="Suppressions of this address" captionHidden rows={s.data.items} rowKey={(x) => x.id}
            columns={[
              { label: 'Scope', render: (x) => (x.scope === 'all' ? 'All mail' : 'Marketing mail') },
              { label: 'Reason', render: (x) => x.reason },
              { label: 'Source', render: (x) => whoLabel(x.source.type, x.createdBy) },
              { label: 'Since', render: (x) => formatDate(x.createdAt, timeZone) },
              { label: 'Note', render: (x) => x.note ?? '' },
            ]} />
          <p><a href={withQuery('/console/suppressions', { address })}>Manage these suppressions</a> (removal needs a reason).</p>
        </>
      ) : null}
    </Section>
  );
}

/** The date the person gave their consent, when the record carries one (an import's consent_date column). */
const given = (r: ConsentRecord): string | null => (typeof r.detail.consentAt === 'string' && r.detail.consentAt ? r.detail.consentAt : null);

function ConsentProof({ contactId, version }: { contactId: string; version: number }) {
  const { timeZone } = useSession();
  const records = useAsync(() => api.get<Page<ConsentRecord>>(`/api/contacts/${contactId}/consent`), [contactId, version]);
  const lists = useAsync(() => api.get<Page<List>>('/api/lists'), []);
  const listName = (id: string | null) => (id ? lists.data?.items.find((l) => l.id === id)?.name ?? 'a deleted list' : null);
  return (
    <Section title="Consent proof" id="consent">
      {records.error ? <Notice kind="error">{errorMessage(records.error)}</Notice> : null}
      {!records.data && !records.error ? <Loading what="Loading the consent records" /> : null}
      {records.data && records.data.items.length === 0 ? <p>No consent records.</p> : null}
      {records.data && records.data.items.length > 0 ? (
        <ol class="consent-records">
          {records.data.items.map((r) => (
            <li key={r.id} class="card">
              <p class="consent-head">
                <strong>{ACTION_LABEL[r.action] ?? r.action}</strong>{listName(r.listId) ? <> · {listName(r.listId)}</> : null}
                {given(r) ? <>
                  {' · '}consent given <time dateTime={given(r) ?? undefined} data-testid="consent-given">{formatDate(given(r), timeZone, { zone: true })}</time>
                  <span class="muted">{' · '}recorded <time dateTime={r.at}>{formatDate(r.at, timeZone, { seconds: true, zone: true })}</time></span>
                </> : <>{' · '}<time dateTime={r.at}>{formatDate(r.at, timeZone, { seconds: true, zone: true })}</time></>}
              </p>
              <dl class="facts">
                <dt>Source</dt><dd>{whoLabel(r.source, r.detail.by)}</dd>
                {r.ip ? <><dt>IP address</dt><dd>{r.ip}</dd></> : null}
                {r.userAgent ? <><dt>Browser</dt><dd class="anywhere">{r.userAgent}</dd></> : null}
              </dl>
              {r.text !== null ? (
                <figure class="wording">
                  <figcaption>Wording shown{r.textHash ? <span class="muted"> (sha-256 {r.textHash.slice(0, 12)}…)</span> : null}</figcaption>
                  <blockquote>{r.text}</blockquote>
                </figure>
              ) : null}
              {Object.keys(r.detail).length > 0 ? (
                <details><summary>Details</summary><pre>{JSON.stringify(r.detail, null, 2)}</pre></details>
              ) : null}
            </li>
          ))}
        </ol>
      ) : null}
    </Section>
  );
}

function DataRights({ contact, writable, onErased }: { contact: Contact; writable: boolean; onErased: (m: string) => void }) {
  const [dialog, setDialog] = useState<'export' | 'erase' | null>(null);
  const shown = useLast(dialog);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [exported, setExported] = useState(false);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      if (dialog === 'export') {
        download(await api.text(`/api/contacts/${contact.id}/export`), `contact-${contact.id}.json`);
        setExported(true);
      } else if (dialog === 'erase') {
        await api.del(`/api/contacts/${contact.id}`);
        onErased(`${contact.email ?? 'The contact'} was erased. A salted hash of the address stays on the suppression list.`);
      }
      setDialog(null);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="Data rights" id="data-rights">
      <p>Export everything held about this person (profile, subscriptions, consent records, messages, bounces), or erase it.</p>
      {exported ? <Notice kind="success">The export was downloaded.</Notice> : null}
      <div class="actions">
        <Button onClick={() => { setError(null); setDialog('export'); }}>Export data</Button>
        {writable ? <Button variant="danger" onClick={() => { setError(null); setDialog('erase'); }}>Erase contact</Button> : null}
      </div>
      <ConfirmDialog open={dialog !== null} danger={shown === 'erase'} busy={busy} error={error} onConfirm={confirm} onCancel={() => setDialog(null)}
        title={shown === 'erase' ? `Erase ${contact.email ?? 'this contact'}?` : `Export the data of ${contact.email ?? 'this contact'}?`}
        confirmLabel={shown === 'erase' ? 'Erase permanently' : 'Download JSON'}>
        {shown === 'erase'
          ? <p>Their personal data is removed everywhere and cannot be restored. Their address stays suppressed (as a salted hash) so no mail goes to it again.</p>
          : <p>The file holds personal data: store it safely and hand it only to the person.</p>}
      </ConfirmDialog>
    </Section>
  );
}
