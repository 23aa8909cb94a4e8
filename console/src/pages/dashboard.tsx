// The dashboard: warnings first, queue health, campaign mail per day (uPlot charts, each with a text
// summary and a data table), the complaint rate, running and recent campaigns. One call: GET
// /api/dashboard (src/dashboard/), refreshed every minute; no figure is computed here.
import { useEffect, useState } from 'preact/hooks';
import { api, withQuery } from '../api';
import { useSession } from '../session';
import {
  Button, Loading, Notice, PageHeader, Section, Select, Table, formatDate, formatNumber, formatPercent, useAsync,
} from '../ui';
import { fieldErrors } from '../ui/query-errors';
import { DailyChart, type ChartSeries } from './dashboard/chart';
import type { CampaignSummary, Dashboard, DashboardWarning } from './dashboard/types';
import './dashboard.css';

const PERIODS = [{ value: '7', label: 'Last 7 days' }, { value: '14', label: 'Last 14 days' }, { value: '30', label: 'Last 30 days' }, { value: '90', label: 'Last 90 days' }];
const REFRESH_MS = 60_000;

const SENDING: ChartSeries[] = [
  { key: 'sent', label: 'Sent', color: '#1d4ed8' },
  { key: 'delivered', label: 'Delivered', color: '#047857', dash: [6, 4] },
];
const PROBLEMS: ChartSeries[] = [
  { key: 'bounced', label: 'Bounced', color: '#b91c1c' },
  { key: 'complaints', label: 'Complaints', color: '#7c2d12', dash: [2, 3] },
  { key: 'unsubscribes', label: 'Unsubscribes', color: '#6d28d9', dash: [8, 4] },
];

/** Seconds as the largest two units ("3 h 12 min", "45 s"). */
export function duration(seconds: number): string {
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0 || (parts.length === 0 && size === 1)) parts.push(`${n} ${name}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

export default function DashboardPage() {
  const { timeZone } = useSession();
  const [days, setDays] = useState('14');
  const state = useAsync(() => api.get<Dashboard>(withQuery('/api/dashboard', { days, timeZone })), [days, timeZone]);
  useEffect(() => {
    const t = setInterval(() => { void state.reload(); }, REFRESH_MS);
    return () => clearInterval(t);
  }, [state.reload]);
  const d = state.data;
  const errors = state.error ? fieldErrors(state.error, ['days', 'timeZone']) : {};

  return (
    <>
      <PageHeader title="Dashboard" subtitle={d ? <>Campaign mail by day in {d.timeZone}.</> : null}
        actions={<Button onClick={() => void state.reload()} busy={state.loading && !!d} busyLabel="Refreshing…">Refresh</Button>} />
      <div class="dash-controls">
        <Select label="Period" value={days} onValue={setDays} options={PERIODS} error={errors.days} />
      </div>
      {errors._form || errors.timeZone ? <Notice kind="error" title="The dashboard could not be loaded">{errors._form ?? `Time zone ${timeZone}: ${errors.timeZone}`}</Notice> : null}
      {!d && state.loading ? <Loading what="Loading the dashboard" /> : null}
      {d ? <DashboardBody d={d} timeZone={timeZone} /> : null}
    </>
  );
}

function DashboardBody({ d, timeZone }: { d: Dashboard; timeZone: string }) {
  return (
    <>
      <Section title="Warnings" id="warnings">
        {d.warnings.length === 0 ? <p class="muted">Nothing needs attention.</p> : (
          <ul class="dash-warnings">{d.warnings.map((w) => <li key={w.code}><WarningNotice w={w} /></li>)}</ul>
        )}
      </Section>

      <Section title="Queue" id="queue">
        <dl class="grid dash-figures">
          <Figure label="Queued" value={formatNumber(d.queue.queued)} />
          <Figure label="Oldest queued" value={d.queue.oldestQueuedSeconds === null ? 'None' : duration(d.queue.oldestQueuedSeconds)}
            hint={d.queue.oldestQueuedSeconds === null ? undefined : 'waiting since it was due'} />
          <Figure label="Deferred" value={formatNumber(d.queue.deferred)} hint="a receiving server said try later" />
          <Figure label="Sending now" value={formatNumber(d.queue.sending)} />
        </dl>
      </Section>

      <Section title="Campaign mail over time" id="over-time">
        <p class="muted">Campaign mail only; transactional and activation mail are not counted here. Bounces and complaints can arrive days after sending.</p>
        <dl class="grid dash-figures">
          <Figure label="Sent" value={formatNumber(d.totals.sent)} />
          <Figure label="Delivered" value={formatNumber(d.totals.delivered)} hint={d.totals.pending ? `${formatNumber(d.totals.pending)} more not yet counted as delivered` : undefined} />
          <Figure label="Bounced" value={formatNumber(d.totals.bounced)} hint={`${formatNumber(d.totals.hard)} hard, ${formatNumber(d.totals.soft)} soft, ${formatNumber(d.totals.blocked)} blocked`} />
          <Figure label="Complaints" value={formatNumber(d.totals.complaints)} />
          <Figure label="Unsubscribes" value={formatNumber(d.totals.unsubscribes)} />
        </dl>
        <div class="dash-charts">
          <DailyChart id="chart-sending" title="Sent and delivered per day" days={d.series} series={SENDING} />
          <DailyChart id="chart-problems" title="Bounces, complaints and unsubscribes per day" days={d.series} series={PROBLEMS} />
        </div>
      </Section>

      <Section title="Complaint rate" id="complaints">
        <p>
          {d.complaintRate.rate === null ? `No campaign mail sent in the last ${d.complaintRate.windowDays} days.` : (
            <><strong class={d.complaintRate.rate >= d.complaintRate.warnAt ? 'dash-bad' : undefined}>{formatPercent(d.complaintRate.rate)}</strong>{' '}
              over the last {d.complaintRate.windowDays} days ({formatNumber(d.complaintRate.complaints)} complaints of {formatNumber(d.complaintRate.sent)} sent).</>
          )}{' '}
          Google and Yahoo ask bulk senders to stay under {formatPercent(d.complaintRate.limit, 1)}; the dashboard warns from {formatPercent(d.complaintRate.warnAt)}.
        </p>
      </Section>

      <Section title="Running campaigns" id="running">
        <CampaignTable caption="Running and paused campaigns" rows={d.campaigns.running} timeZone={timeZone} empty="No campaign is running." />
      </Section>
      <Section title="Recent campaigns" id="recent">
        <CampaignTable caption="Recently completed or cancelled campaigns" rows={d.campaigns.recent} timeZone={timeZone} empty="No campaign has finished yet." />
      </Section>
    </>
  );
}

function Figure({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <div class="card dash-figure">
      <dt>{label}</dt>
      <dd><span class="dash-value">{value}</span>{hint ? <span class="hint">{hint}</span> : null}</dd>
    </div>
  );
}

function WarningNotice({ w }: { w: DashboardWarning }) {
  const title = {
    sender_domain_unverified: 'Sender domain not verified',
    unverified_domains: 'Domains waiting for verification',
    insecure_public_url: 'Links are not served over https',
    complaint_rate: 'Complaint rate is high',
  }[w.code];
  return (
    <Notice kind={w.severity === 'critical' ? 'error' : 'warning'} title={title}>
      <p>{w.message}</p>
      {w.code === 'sender_domain_unverified' || w.code === 'unverified_domains' ? <p><a href="/console/domains">Publish the DNS records and verify on the Domains page</a>.</p> : null}
      {w.code === 'complaint_rate' ? <p><a href="/console/suppressions">Review bounces and complaints</a>.</p> : null}
    </Notice>
  );
}

function CampaignTable({ caption, rows, timeZone, empty }: { caption: string; rows: CampaignSummary[]; timeZone: string; empty: string }) {
  return (
    <Table caption={caption} captionHidden rows={rows} rowKey={(c) => c.id} empty={empty} columns={[
      { label: 'Campaign', render: (c) => <a href={`/console/campaigns/${c.id}`}>{c.name}</a> },
      { label: 'Status', render: (c) => <span class={`badge ${c.status === 'paused' || c.status === 'cancelled' ? 'badge--warn' : 'badge--ok'}`}>{c.status}{c.pausedReason ? ` (${c.pausedReason})` : ''}</span> },
      { label: 'Started', render: (c) => formatDate(c.startedAt, timeZone) },
      { label: 'Audience', numeric: true, render: (c) => formatNumber(c.audience) },
      { label: 'Sent', numeric: true, render: (c) => formatNumber(c.sent) },
      { label: 'Delivered', numeric: true, render: (c) => formatNumber(c.delivered) },
      { label: 'Bounced', numeric: true, render: (c) => <>{formatNumber(c.bounced)} <span class="muted">{formatPercent(c.rates.bounced, 1)}</span></> },
      { label: 'Complaints', numeric: true, render: (c) => <>{formatNumber(c.complaints)} <span class="muted">{formatPercent(c.rates.complaints)}</span></> },
      { label: 'Unsubscribes', numeric: true, render: (c) => <>{formatNumber(c.unsubscribes)} <span class="muted">{formatPercent(c.rates.unsubscribes, 1)}</span></> },
      { label: 'Unique opens', numeric: true, render: (c) => formatPercent(c.rates.uniqueOpens, 1) },
      { label: 'Unique clicks', numeric: true, render: (c) => formatPercent(c.rates.uniqueClicks, 1) },
    ]} />
  );
}


