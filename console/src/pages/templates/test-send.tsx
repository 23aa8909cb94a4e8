// "Send a test": the saved version of the template to one of the tenant's verified test addresses
// (POST /api/templates/:id/test), and the test addresses themselves: their state, and adding one, which
// mails it a confirmation link (POST /api/test-addresses). The server checks everything.
import { useEffect, useState } from 'preact/hooks';
import { api, isApiFailure, type Page } from '../../api';
import { Button, EmptyState, Loading, Notice, Select, Table, TextInput, errorMessage, formErrors, formatDate, useAsync, type FormErrors } from '../../ui';
import { useSession } from '../../session';
import type { TestAddress } from './types';

export interface TestSendPanelProps {
  /** The saved template (null: not saved yet). */
  templateId: string | null;
  version: number | null;
  /** The editor holds changes not saved: the test sends the saved version. */
  dirty: boolean;
}

/** The reasons of a not_compliant refusal, as sentences. */
function reasonsOf(err: unknown): string[] {
  if (!isApiFailure(err)) return [];
  const d = err.details.details;
  return Array.isArray(d) ? d.map((x) => (typeof x === 'object' && x && typeof (x as { message?: unknown }).message === 'string' ? (x as { message: string }).message : '')).filter(Boolean) : [];
}

export function TestSendPanel({ templateId, version, dirty }: TestSendPanelProps) {
  const { canWrite, timeZone } = useSession();
  const addresses = useAsync(() => api.get<Page<TestAddress>>('/api/test-addresses'), []);
  const verified = (addresses.data?.items ?? []).filter((a) => a.state === 'verified');
  const [to, setTo] = useState('');
  const [sending, setSending] = useState(false);
  const [sendErrors, setSendErrors] = useState<FormErrors>({});
  const [reasons, setReasons] = useState<string[]>([]);
  const [sent, setSent] = useState<string | null>(null);
  const [newAddress, setNewAddress] = useState('');
  const [adding, setAdding] = useState(false);
  const [addErrors, setAddErrors] = useState<FormErrors>({});
  const [added, setAdded] = useState<string | null>(null);

  useEffect(() => {
    if (verified.length && !verified.some((a) => a.address === to)) setTo(verified[0].address);
  }, [addresses.data]);

  async function send(e: Event) {
    e.preventDefault();
    if (!templateId) return;
    setSending(true); setSendErrors({}); setReasons([]); setSent(null);
    try {
      await api.post(`/api/templates/${templateId}/test`, { emails: [to] });
      setSent(`A test of version ${version ?? ''} is on its way to ${to}.`);
    } catch (err) {
      setSendErrors(formErrors(err, ['emails']));
      setReasons(reasonsOf(err));
    } finally {
      setSending(false);
    }
  }

  async function add(e: Event) {
    e.preventDefault();
    setAdding(true); setAddErrors({}); setAdded(null);
    try {
      const r = await api.post<TestAddress>('/api/test-addresses', { email: newAddress });
      setAdded(r.state === 'verified'
        ? `${r.address} is already a verified test address.`
        : `We mailed a confirmation link to ${r.address}. It gets tests once someone there opens the link and confirms.`);
      setNewAddress('');
      await addresses.reload();
    } catch (err) {
      setAddErrors(formErrors(err, ['email']));
    } finally {
      setAdding(false);
    }
  }

  const items = addresses.data?.items ?? [];
  return (
    <section class="section test-send" aria-labelledby="test-h">
      <h2 id="test-h">Send a test</h2>
      {!canWrite ? <p class="muted">Your role can read templates but not send tests.</p> : null}
      {canWrite && !templateId ? <p class="muted">Save the template first: a test sends a saved version.</p> : null}
      {canWrite && templateId ? (
        verified.length ? (
          <form class="test-form" onSubmit={send} aria-label="Send a test">
            {dirty ? <Notice kind="warning">You have unsaved changes: the test sends the saved version {version}.</Notice> : null}
            <Select label="Send to" value={to} onValue={setTo} error={sendErrors.emails}
              hint="Only verified test addresses get tests."
              options={verified.map((a) => ({ value: a.address, label: a.address }))} />
            {sendErrors._form ? (
              <Notice kind="error" title="The test was not sent">
                {sendErrors._form}
                {reasons.length ? <ul>{reasons.map((r) => <li key={r}>{r}</li>)}</ul> : null}
              </Notice>
            ) : null}
            {sent ? <Notice kind="success">{sent}</Notice> : null}
            <Button variant="primary" type="submit" busy={sending} busyLabel="Sending…">Send test of version {version}</Button>
          </form>
        ) : !addresses.loading ? <p class="muted">No verified test address yet: add one below and confirm the link mailed to it.</p> : null
      ) : null}

      <h3>Test addresses</h3>
      {addresses.error ? <Notice kind="error">{errorMessage(addresses.error)}</Notice> : null}
      {!addresses.data && addresses.loading ? <Loading what="Loading the test addresses" /> : null}
      {addresses.data ? (
        items.length ? (
          <Table caption="Test addresses" captionHidden rows={items} rowKey={(a) => a.id}
            columns={[
              { label: 'Address', render: (a) => a.address },
              { label: 'State', render: (a) => <span class={`badge ${a.state === 'verified' ? 'badge--ok' : 'badge--warn'}`}>{a.state === 'verified' ? 'Verified' : 'Waiting for confirmation'}</span> },
              { label: 'Verified', render: (a) => formatDate(a.verifiedAt, timeZone) },
            ]} />
        ) : <EmptyState title="No test addresses yet" />
      ) : null}
      <div class="actions">
        <Button onClick={() => { void addresses.reload(); }} busy={addresses.loading && !!addresses.data}>Refresh the test addresses</Button>
      </div>
      {canWrite ? (
        <form class="add-address" onSubmit={add} aria-label="Add a test address" noValidate>
          <TextInput label="New test address" type="email" value={newAddress} onValue={setNewAddress} error={addErrors.email} required
            autocomplete="email" hint="We mail it a link; tests go to it only after that link is confirmed." />
          {addErrors._form ? <Notice kind="error">{addErrors._form}</Notice> : null}
          {added ? <Notice kind="success">{added}</Notice> : null}
          <Button type="submit" busy={adding} busyLabel="Adding…">Add test address</Button>
        </form>
      ) : null}
    </section>
  );
}
