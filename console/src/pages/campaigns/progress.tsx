// Live progress of a started campaign: a progress bar over its audience, the recipients by state,
// and the gate's refusals by reason (apart from those left out when the audience was chosen).
import { Table, formatNumber } from '../../ui';
import { reasonLabel, type Progress } from './types';

interface Row { label: string; n: number; hint?: string }

function ReasonTable({ caption, counts, empty }: { caption: string; counts: Record<string, number>; empty: string }) {
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([reason, n]) => ({ reason, n }));
  return (
    <Table caption={caption} rows={rows} rowKey={(r) => r.reason} empty={empty}
      columns={[
        { label: 'Reason', render: (r) => <span title={r.reason} data-reason={r.reason}>{reasonLabel(r.reason)}</span> },
        { label: 'Recipients', numeric: true, render: (r) => formatNumber(r.n) },
      ]} />
  );
}

export function ProgressPanel({ progress: p, running }: { progress: Progress; running: boolean }) {
  const open = p.queued + p.deferred + p.sending;
  const done = p.audience - open;
  const refused = p.refused ?? p.skipped;
  const pct = p.audience > 0 ? Math.round((done / p.audience) * 100) : null;
  const summary = p.audience === 0
    ? (running ? 'Choosing the audience…' : 'No recipient was queued.')
    : `${formatNumber(done)} of ${formatNumber(p.audience)} recipients processed (${pct}%)`;
  const rows: Row[] = [
    { label: 'Audience', n: p.audience, hint: 'Recipients queued for this campaign' },
    { label: 'Queued', n: p.queued },
    { label: 'Retrying later', n: p.deferred },
    { label: 'Being sent', n: p.sending },
    { label: 'Sent', n: p.sent },
    { label: 'Failed', n: p.failed },
    { label: 'Refused by the gate', n: refused.total },
    { label: 'Cancelled', n: p.cancelled },
  ];
  return (
    <div class="progress-panel">
      <div class="progress-line">
        <label for="campaign-progress" class="label-like">Sending progress</label>
        {p.audience > 0
          ? <progress id="campaign-progress" max={p.audience} value={done} aria-describedby="campaign-progress-text" />
          : <progress id="campaign-progress" aria-describedby="campaign-progress-text" />}
        <p id="campaign-progress-text" class="progress-text" data-testid="progress-text">{summary}</p>
      </div>
      <Table caption="Recipients by state" rows={rows} rowKey={(r) => r.label}
        columns={[
          { label: 'State', render: (r) => r.label },
          { label: 'Recipients', numeric: true, render: (r) => <span data-testid={`count-${r.label.toLowerCase().replace(/\s+/g, '-')}`}>{formatNumber(r.n)}</span> },
        ]} />
      <div class="reason-grid">
        <ReasonTable caption="Refused by the gate, by reason" counts={refused.byReason} empty="No refusal." />
        <ReasonTable caption="Left out when the audience was chosen" counts={p.excluded} empty="Nobody was left out." />
        {p.failed > 0 ? <ReasonTable caption="Failed, by reason" counts={p.failedByReason} empty="No failure." /> : null}
      </div>
    </div>
  );
}
