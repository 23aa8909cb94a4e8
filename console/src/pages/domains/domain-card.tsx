// One sending domain: its state, every DNS record to publish (name and value each with a copy
// button) with the status the last check found, a button to check DNS now, and, once verified, a
// new DKIM key. The server looks the records up and decides; this only shows what it answers.
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { Button, CopyButton, Notice, Table, TextInput, errorMessage, formErrors, formatDate, useAsync, type FormErrors } from '../../ui';
import type { DnsRecord, DomainDetail, RecordCheck, VerifyResult } from './types';

const PURPOSE: Record<DnsRecord['purpose'], string> = {
  verification: 'Ownership (verification)', dkim: 'DKIM signing key', spf: 'SPF', dmarc: 'DMARC', bounce_mx: 'Bounce handling (MX)',
};
const STATUS: Record<RecordCheck['status'], { text: string; badge: string }> = {
  ok: { text: 'Found', badge: 'badge--ok' },
  missing: { text: 'Not found', badge: 'badge--bad' },
  mismatch: { text: 'Different value', badge: 'badge--warn' },
  error: { text: 'Look-up failed', badge: 'badge--warn' },
};

const recordLabel = (r: DnsRecord) => `${PURPOSE[r.purpose]}${r.selector ? ` ${r.selector}` : ''}`;
const checkOf = (r: DnsRecord, checks: RecordCheck[] | null) => checks?.find((c) => c.purpose === r.purpose && c.name === r.name) ?? null;

export function DomainCard({ name, timeZone, canWrite, onChanged }: { name: string; timeZone: string; canWrite: boolean; onChanged: () => void }) {
  const detail = useAsync(() => api.get<DomainDetail>(`/api/domains/${encodeURIComponent(name)}`), [name]);
  const [checking, setChecking] = useState(false);
  const [result, setResult] = useState<{ kind: 'success' | 'warning' | 'error'; text: string } | null>(null);
  const d = detail.data;
  const hid = `domain-${name.replace(/[^a-z0-9]/gi, '-')}`;

  async function verify() {
    setChecking(true);
    setResult(null);
    try {
      const r = await api.post<VerifyResult>(`/api/domains/${encodeURIComponent(name)}/verify`);
      const missing = r.checks.filter((c) => c.status !== 'ok').length;
      const activated = r.activatedKeys.length ? ` DKIM key ${r.activatedKeys.join(', ')} is now active.` : '';
      setResult(r.state === 'verified'
        ? { kind: missing ? 'warning' : 'success', text: `${name} is verified.${activated}${missing ? ` ${missing} recommended record${missing === 1 ? ' is' : 's are'} not right yet.` : ''}` }
        : { kind: 'warning', text: `${name} is not verified yet: the ownership record was not found. DNS changes can take a while to show.` });
      await detail.reload();
      if (r.state !== d?.state) onChanged();
    } catch (err) {
      setResult({ kind: 'error', text: errorMessage(err) });
    } finally {
      setChecking(false);
    }
  }

  return (
    <section class="section domain card" aria-labelledby={`${hid}-h`}>
      <div class="section-head">
        <h2 id={`${hid}-h`}>{name} {d ? <span class={`badge ${d.state === 'verified' ? 'badge--ok' : 'badge--warn'}`}>{d.state === 'verified' ? 'Verified' : 'Not verified'}</span> : null}</h2>
        {canWrite ? <div class="actions"><Button variant="primary" onClick={verify} busy={checking} busyLabel="Checking DNS…" aria-describedby={`${hid}-checked`}>Check DNS records</Button></div> : null}
      </div>
      {detail.error ? <Notice kind="error" title={`${name} could not be loaded`}>{errorMessage(detail.error)}</Notice> : null}
      {d ? (
        <>
          <p class="muted" id={`${hid}-checked`}>
            {d.state === 'verified' ? `Verified ${d.verifiedBy === 'operator' ? 'by the operator' : 'through DNS'} ${formatDate(d.verifiedAt, timeZone)}. ` : 'Publish the ownership record, then check. '}
            {d.checkedAt ? `Last checked ${formatDate(d.checkedAt, timeZone)}.` : 'Not checked yet.'}
          </p>
          {result ? <Notice kind={result.kind}>{result.text}</Notice> : null}
          <Table caption={`DNS records for ${name}`} captionHidden rowKey={(r) => `${r.purpose}:${r.name}`} rows={d.records} columns={[
            { label: 'Record', render: (r) => <>{recordLabel(r)}<br /><span class="muted">{r.type}, {r.required ? 'required' : 'recommended'}{r.keyState ? `, key ${r.keyState}` : ''}</span></> },
            { label: 'Name', render: (r) => <div class="dns-cell"><code class="dns-value">{r.name}</code><CopyButton text={r.name} what={`name of the ${recordLabel(r)} record`} /></div> },
            { label: 'Value', render: (r) => <div class="dns-cell"><code class="dns-value">{r.value}</code><CopyButton text={r.value} what={`value of the ${recordLabel(r)} record`} /></div> },
            { label: 'Status', render: (r) => <RecordStatus check={checkOf(r, d.lastCheck)} /> },
          ]} />
          {d.state === 'verified' && canWrite ? <NewDkimKey domain={name} onCreated={() => void detail.reload()} /> : null}
        </>
      ) : null}
    </section>
  );
}

function RecordStatus({ check }: { check: RecordCheck | null }) {
  if (!check) return <span class="badge">Not checked</span>;
  const s = STATUS[check.status];
  return (
    <>
      <span class={`badge ${s.badge}`}>{s.text}</span>
      {check.status === 'mismatch' && check.found.length ? <p class="hint">Found: <code class="dns-value">{check.found.join(' | ')}</code></p> : null}
      {check.status === 'error' && check.error ? <p class="hint">{check.error}</p> : null}
    </>
  );
}

function NewDkimKey({ domain, onCreated }: { domain: string; onCreated: () => void }) {
  const [selector, setSelector] = useState('');
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});
  const [done, setDone] = useState<string | null>(null);
  async function create(e: Event) {
    e.preventDefault();
    setBusy(true); setErrors({}); setDone(null);
    try {
      await api.post('/api/dkim', { selector, domain });
      setDone(`DKIM key ${selector.toLowerCase()} created: publish its record above, then check DNS.`);
      setSelector('');
      onCreated();
    } catch (err) {
      setErrors(formErrors(err, ['selector']));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="dkim-form" onSubmit={create} noValidate>
      <h3>New DKIM key</h3>
      <TextInput label="Selector" value={selector} onValue={setSelector} error={errors.selector} required id={`dkim-${domain}`}
        hint="A name for the key, such as pg2026. The current key stays in use until the new record is found." />
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      {done ? <Notice kind="success">{done}</Notice> : null}
      <Button type="submit" busy={busy} busyLabel="Creating…">Create key</Button>
    </form>
  );
}
