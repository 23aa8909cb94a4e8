// Imports: choose a CSV file, map its columns (starting from the server's suggestion, POST
// /api/imports/preview), pick the lists and the consent basis, run a dry run and read its report, then
// start the import and watch its progress (polling GET /api/imports/{id}); the past imports below.
// A thin view over /api/imports: every rule (mapping, consent, suppressions, duplicates) is the server's.
import { useEffect, useId, useState } from 'preact/hooks';
import { api, isApiFailure, withQuery, type Page } from '../api';
import { useSession } from '../session';
import {
  Button, Checkbox, Field, Fieldset, Loading, Notice, PageHeader, Pager, Section, Table, TextInput, Textarea,
  errorMessage, formatDate, formatNumber, useApiList, useAsync,
} from '../ui';
import { ColumnMappingForm } from './imports/mapping';
import { ImportReport, ImportStatus } from './imports/report';
import { fieldKey, isRunning, mappingOf, rolesOf, withRole, type ColumnRole, type ImportView, type Preview } from './imports/types';
import './imports.css';

interface List { id: string; name: string; isDefault: boolean; archivedAt: string | null }

/** The preview reads the first this many bytes of a larger file (the server parses at most 64 KiB of it). */
const PREVIEW_BYTES = 64 * 1024;
const POLL_MS = 1000;

type Errors = Record<string, string | undefined>;
type ConsentMode = 'attested' | 'none';

/**
 * The consent fields' errors in words a person can act on (the server's validator messages name the
 * option, e.g. "options.consent.source: Too small…"); other fields keep the server's message.
 */
function readable(field: string, message: string): string {
  const text = message.replace(/^options\.[\w.]+:?\s*/, '');
  switch (field) {
    case 'consent': return 'Choose the consent basis: did these people give consent, or is there none on record?';
    case 'consent.source': return 'Say where and how these people gave consent, e.g. the signup form they used (at most 200 characters).';
    case 'consent.text': return 'The wording people agreed to can be at most 5,000 characters; or leave it empty.';
    case 'consent.ip': return 'Give one IPv4 or IPv6 address, or leave this empty.';
    case 'consent.date':
      if (/future/.test(text)) return 'The consent date cannot be in the future.';
      if (/required/.test(text)) {
        return 'Give the date consent was given: no column of the file is mapped as the consent date, so without it nobody would arrive subscribed. '
          + 'Or choose “No consent on record”.';
      }
      return 'Give the date consent was given as a calendar date.';
    default: return text || message;
  }
}

/** Fields this page shows an error at (keyed without "options."); anything else goes to the form's notice. */
const placed = (k: string) => k === 'file' || k === 'mapping' || k.startsWith('mapping.') || k.startsWith('lists') || k.startsWith('consent');

export default function ImportsPage() {
  const { canWrite, timeZone } = useSession();
  const lists = useAsync(() => api.get<Page<List>>('/api/lists'), []);
  const history = useApiList<ImportView>('/api/imports', 10);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewBusy, setPreviewBusy] = useState(false);
  const [roles, setRoles] = useState<ColumnRole[]>([]);
  const [chosenLists, setChosenLists] = useState<string[]>([]);
  const [mode, setMode] = useState<ConsentMode | null>(null); // never pre-selected: the importer states it
  const [consent, setConsent] = useState({ source: '', text: '', date: '', ip: '' });
  const [sendActivation, setSendActivation] = useState(false);
  const [updateExisting, setUpdateExisting] = useState(false);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'dry' | 'run' | null>(null);
  const [current, setCurrent] = useState<ImportView | null>(null);
  const modeName = `consent-mode-${useId()}`;

  /** Shows a failure at the field it names, or above the form. */
  function showFailure(err: unknown) {
    const field = isApiFailure(err) ? fieldKey(err.field) : '';
    if (isApiFailure(err) && placed(field)) { setErrors({ [field]: readable(field, err.message) }); setFormError(null); }
    else { setErrors({}); setFormError(isApiFailure(err) && err.field ? `${err.field}: ${err.message}` : errorMessage(err)); }
  }

  async function choose(f: File | null) {
    setFile(f); setPreview(null); setRoles([]); setErrors({}); setFormError(null); setCurrent(null);
    if (!f) return;
    setPreviewBusy(true);
    try {
      const partial = f.size > PREVIEW_BYTES;
      const p = await api.post<Preview>(withQuery('/api/imports/preview', { partial: partial ? 'true' : undefined }), f.slice(0, PREVIEW_BYTES, 'text/csv'));
      setPreview(p);
      setRoles(rolesOf(p.headers, p.mapping));
    } catch (err) {
      setErrors({ file: errorMessage(err) });
    } finally {
      setPreviewBusy(false);
    }
  }

  function optionsOf(dryRun: boolean): Record<string, unknown> {
    const o: Record<string, unknown> = { dryRun, lists: chosenLists, updateExisting };
    if (preview) o.mapping = mappingOf(preview.headers, roles);
    if (mode === 'attested') {
      const c: Record<string, string> = { source: consent.source };
      if (consent.text.trim()) c.text = consent.text;
      if (consent.date) c.date = consent.date;
      if (consent.ip.trim()) c.ip = consent.ip.trim();
      o.consent = c;
    } else {
      o.sendActivation = sendActivation;
    }
    return o;
  }

  async function start(dryRun: boolean) {
    if (!file) { setErrors({ file: 'Choose a CSV file first.' }); return; }
    if (mode === null) { setErrors({ consent: readable('consent', '') }); setFormError(null); return; }
    setBusy(dryRun ? 'dry' : 'run'); setErrors({}); setFormError(null);
    try {
      const body = new FormData();
      body.append('options', JSON.stringify(optionsOf(dryRun)));
      body.append('file', file, file.name);
      setCurrent(await api.post<ImportView>('/api/imports', body));
    } catch (err) {
      showFailure(err);
    } finally {
      setBusy(null);
    }
  }

  // Follows the import shown while it runs; once it ends, the past imports reload and its error shows at its field.
  const watching = current && isRunning(current) ? current.id : null;
  useEffect(() => {
    if (!watching) return;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async () => {
      try {
        const v = await api.get<ImportView>(`/api/imports/${watching}`);
        if (stop) return;
        setCurrent(v);
        if (!isRunning(v)) {
          void history.reload();
          if (v.error?.field && placed(fieldKey(v.error.field))) setErrors({ [fieldKey(v.error.field)]: readable(fieldKey(v.error.field), v.error.message) });
          return;
        }
      } catch { /* a missed poll: try again */ }
      if (!stop) timer = setTimeout(tick, POLL_MS);
    };
    timer = setTimeout(tick, POLL_MS);
    return () => { stop = true; clearTimeout(timer); };
  // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [watching]);

  const liveLists = (lists.data?.items ?? []).filter((l) => !l.archivedAt);
  const listsError = Object.entries(errors).find(([k]) => k.startsWith('lists'))?.[1];
  const contactsHref = chosenLists.length === 1 ? `/console/contacts?listId=${chosenLists[0]}` : '/console/contacts';

  return (
    <div class="imports-page">
      <PageHeader title="Imports" subtitle="Bring contacts in from a CSV file: map its columns, state the consent basis, check with a dry run, then import." />
      {!canWrite ? <Notice kind="info">Your role can look at imports but not start one.</Notice> : null}
      {canWrite ? (
        <form class="import-form" onSubmit={(e) => { e.preventDefault(); void start(false); }} noValidate>
          <Section title="1. Choose the file" id="import-file">
            <Field label="CSV file" error={errors.file}
              hint="Comma, semicolon or tab separated, with a header row. UTF-8, Windows-1252 and Latin-1 are recognised.">
              {(a) => <input {...a} type="file" accept=".csv,.txt,text/csv,text/plain" onChange={(e) => void choose(e.currentTarget.files?.[0] ?? null)} />}
            </Field>
            {previewBusy ? <Loading what="Reading the file" /> : null}
          </Section>

          {preview ? (
            <Section title="2. Map the columns" id="import-mapping">
              <ColumnMappingForm preview={preview} roles={roles} onRole={(i, r) => setRoles(withRole(roles, i, r))} errors={errors} />
            </Section>
          ) : null}

          {preview ? (
            <Section title="3. Lists and consent" id="import-consent">
              <Fieldset legend="Add the contacts to these lists" error={listsError}
                hint="None chosen: the default list, unless the file has a list names column.">
                {liveLists.length === 0 && !lists.loading ? <p class="hint">No lists yet.</p> : null}
                {liveLists.map((l) => (
                  <Checkbox key={l.id} label={<>{l.name}{l.isDefault ? ' (default)' : ''}</>} checked={chosenLists.includes(l.id)}
                    onChecked={(on) => setChosenLists(on ? [...chosenLists, l.id] : chosenLists.filter((x) => x !== l.id))} />
                ))}
              </Fieldset>
              <Fieldset legend="Consent basis" error={errors.consent}
                hint="Only a stated consent makes rows subscribed. Suppressed, complained, bounced, erased and unsubscribed addresses are always skipped.">
                <div class="field field--check">
                  <input type="radio" id={`${modeName}-a`} name={modeName} checked={mode === 'attested'} onChange={() => setMode('attested')} />
                  <label for={`${modeName}-a`}>These people gave consent: they arrive subscribed</label>
                </div>
                <div class="field field--check">
                  <input type="radio" id={`${modeName}-n`} name={modeName} checked={mode === 'none'} onChange={() => setMode('none')} />
                  <label for={`${modeName}-n`}>No consent on record: they arrive unconfirmed</label>
                </div>
                {mode === 'attested' ? (
                  <div class="consent-fields">
                    <TextInput label="Where and how consent was given" required value={consent.source} maxLength={200}
                      onValue={(v) => setConsent({ ...consent, source: v })} error={errors['consent.source']}
                      hint="E.g. “signup form on example.org (exported from our old newsletter tool)”." />
                    <Textarea label="The wording people agreed to" value={consent.text} rows={3} maxLength={5000}
                      onValue={(v) => setConsent({ ...consent, text: v })} error={errors['consent.text']} hint="Optional; stored once with the consent records." />
                    <TextInput label="Date consent was given" type="date" value={consent.date}
                      onValue={(v) => setConsent({ ...consent, date: v })} error={errors['consent.date']}
                      hint="Required unless a column is mapped as the consent date (then it counts for rows where that column is empty): without a date nobody arrives subscribed." />
                    <TextInput label="IP address consent came from" value={consent.ip} maxLength={45}
                      onValue={(v) => setConsent({ ...consent, ip: v })} error={errors['consent.ip']} hint="Optional; only when one address applies to every row." />
                  </div>
                ) : mode === 'none' ? (
                  <Checkbox label="Send the confirmation email (double opt-in) to these people" checked={sendActivation} onChecked={setSendActivation}
                    error={errors.sendActivation} hint="Sent at a capped rate; they are subscribed once they confirm. Without it nobody is subscribed or mailed." />
                ) : null}
              </Fieldset>
              <Checkbox label="Update the name and attributes of contacts that already exist" checked={updateExisting} onChecked={setUpdateExisting} />
              {formError ? <Notice kind="error" title="The import could not start">{formError}</Notice> : null}
              <div class="actions">
                <Button onClick={() => void start(true)} busy={busy === 'dry'} busyLabel="Uploading…" disabled={busy !== null || (current !== null && isRunning(current))}>Dry run</Button>
                <Button type="submit" variant="primary" busy={busy === 'run'} busyLabel="Uploading…" disabled={busy !== null || (current !== null && isRunning(current))}>Start import</Button>
              </div>
            </Section>
          ) : null}
        </form>
      ) : null}

      {current ? (
        <Section title={current.dryRun ? 'Dry run report' : 'Import'} id="import-report">
          <ImportReport view={current} timeZone={timeZone} contactsHref={contactsHref} />
        </Section>
      ) : null}

      <Section title="Past imports" id="import-history">
        {history.error ? <Notice kind="error" title="The imports could not be loaded">{errorMessage(history.error)}</Notice> : null}
        {history.loading && history.items.length === 0 ? <Loading what="Loading imports" /> : null}
        {!history.loading || history.items.length > 0 ? (
          <Table<ImportView> caption="Past imports" captionHidden rows={history.items} rowKey={(v) => v.id} empty="No imports yet."
            columns={[
              { label: 'Started', render: (v) => formatDate(v.createdAt, timeZone) },
              { label: 'Kind', render: (v) => (v.dryRun ? 'Dry run' : 'Import') },
              { label: 'Status', render: (v) => <ImportStatus view={v} /> },
              { label: 'Rows', numeric: true, render: (v) => formatNumber(v.counts.rows) },
              { label: 'Created', numeric: true, render: (v) => formatNumber(v.counts.created) },
              { label: 'Errors', numeric: true, render: (v) => formatNumber(v.counts.errors) },
              { label: 'Report', hideLabel: true, render: (v) => (
                <Button variant="link" onClick={() => setCurrent(v)} aria-label={`Show the report of the ${v.dryRun ? 'dry run' : 'import'} started ${formatDate(v.createdAt, timeZone)}`}>Show report</Button>
              ) },
            ]} />
        ) : null}
        <Pager hasPrev={history.hasPrev} nextCursor={history.nextCursor} onPrev={history.prev} onNext={history.next} busy={history.loading} label="Import pages" />
      </Section>
    </div>
  );
}
