// One import's report as GET /api/imports/{id} gives it: live progress while it runs, then what it did
// (a dry run: what it would do), the skips by reason and the first row errors.
import { Notice, Table, formatDate, formatNumber, plainMessage } from '../../ui';
import { SKIP_REASONS, isRunning, type ImportView, type RowReport } from './types';

const SKIP_LABEL: Record<(typeof SKIP_REASONS)[number], string> = {
  unsubscribed: 'Skipped: unsubscribed', complained: 'Skipped: complained', bounced: 'Skipped: bounced',
  erased: 'Skipped: erased', suppressed: 'Skipped: suppressed',
};

const STATUS_LABEL: Record<ImportView['status'], string> = { queued: 'Queued', running: 'Running', completed: 'Completed', failed: 'Failed' };
const STATUS_BADGE: Record<ImportView['status'], string> = { queued: 'badge', running: 'badge badge--warn', completed: 'badge badge--ok', failed: 'badge badge--bad' };

/** The status as a badge (used by the list of past imports too). */
export function ImportStatus({ view }: { view: ImportView }) {
  return <span class={STATUS_BADGE[view.status]}>{STATUS_LABEL[view.status]}</span>;
}

export function ImportReport({ view, timeZone, contactsHref }: { view: ImportView; timeZone?: string; contactsHref?: string }) {
  const c = view.counts;
  const would = view.dryRun ? 'would be ' : '';
  const figures: { label: string; value: number }[] = [
    { label: 'Rows read', value: c.rows },
    { label: `New contacts ${would}created`, value: c.created },
    { label: `Existing contacts ${would}updated`, value: c.updated },
    { label: `Subscribed (with consent)`, value: c.subscribed },
    { label: 'Unconfirmed (no consent record)', value: c.unconfirmed },
    { label: 'Unchanged', value: c.unchanged },
    ...SKIP_REASONS.map((r) => ({ label: SKIP_LABEL[r], value: c.skipped[r] })),
    { label: 'Duplicates in the file', value: c.duplicates },
    { label: 'Rows with errors', value: c.errors },
    { label: `Confirmation emails ${view.dryRun ? 'that would be ' : ''}queued`, value: c.activations },
  ];
  const running = isRunning(view);
  return (
    <div class="import-report">
      <p>
        <ImportStatus view={view} /> {view.dryRun ? <strong>Dry run: nothing was written.</strong> : null}{' '}
        <span class="muted">Started {formatDate(view.createdAt, timeZone)}{view.finishedAt ? `, finished ${formatDate(view.finishedAt, timeZone)}` : ''}.</span>
      </p>
      {running ? (
        <div class="import-progress" role="status">
          <label for={`progress-${view.id}`}>{view.status === 'queued' ? 'Waiting for a worker' : 'Progress'}</label>
          <progress id={`progress-${view.id}`} max={100} value={view.progress.percent} />
          <span>{formatNumber(view.progress.rows)} rows processed ({view.progress.percent}%)</span>
        </div>
      ) : null}
      {view.status === 'failed' && view.error ? (
        <Notice kind="error" title="The import failed">
          {view.error.message}{view.error.line ? ` (line ${view.error.line})` : ''}
          {view.error.partial ? ' The rows before it were imported and are counted below.' : ''}
        </Notice>
      ) : null}
      {view.status === 'completed' && !view.dryRun ? (
        <Notice kind="success" title="Import complete">
          {formatNumber(c.created)} contacts created, {formatNumber(c.updated)} updated.{' '}
          {contactsHref ? <a href={contactsHref}>See the contacts</a> : null}
        </Notice>
      ) : null}
      {view.status === 'completed' && view.dryRun ? (
        <Notice kind="info" title="Dry run complete">Nothing was written. If the figures look right, start the import.</Notice>
      ) : null}
      {view.status === 'completed' && c.subscribed === 0 && c.activations === 0 && c.unconfirmed > 0 ? (
        <Notice kind="warning" title={view.dryRun ? 'Nobody would be subscribed' : 'Nobody was subscribed'}>
          {view.dryRun ? 'Nobody would be subscribed and no confirmation email would be queued' : 'Nobody was subscribed and no confirmation email was queued'}:{' '}
          the {formatNumber(c.unconfirmed)} {c.unconfirmed === 1 ? 'contact arrives' : 'contacts arrive'} unconfirmed and get no campaigns
          until they confirm. To change that, state the consent (with its date), or send the confirmation email.
        </Notice>
      ) : null}
      <Table caption={view.dryRun ? 'What the import would do' : 'What the import did'} rows={figures} rowKey={(f) => f.label}
        columns={[{ label: 'Figure', render: (f) => f.label }, { label: 'Rows', numeric: true, render: (f) => formatNumber(f.value) }]} />
      {view.rowErrors.length > 0 ? (
        <Table<RowReport> caption={`Rows refused or skipped${view.rowErrors.length >= 100 ? ' (the first 100)' : ''}`} rows={view.rowErrors}
          rowKey={(r) => `${r.row}-${r.code}`}
          columns={[
            { label: 'Row', numeric: true, render: (r) => r.row },
            { label: 'Line', numeric: true, render: (r) => r.line },
            { label: 'Column', render: (r) => r.column ?? '' },
            { label: 'Reason', render: (r) => <span title={r.code}>{r.code.replace(/_/g, ' ')}</span> },
            { label: 'Details', render: (r) => plainMessage(r.message) },
          ]} />
      ) : null}
    </div>
  );
}
