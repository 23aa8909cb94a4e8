// A campaign's figures (GET /api/campaigns/{id}/stats): delivery, bounces, complaints, unsubscribes,
// opens and clicks, with their rates over the messages sent, and the most clicked links.
import { Table, formatNumber, formatPercent } from '../../ui';
import type { Stats } from './types';

interface Row { label: string; n: number; rate?: number | null; note?: string }

export function FiguresPanel({ stats: s }: { stats: Stats }) {
  const rows: Row[] = [
    { label: 'Sent', n: s.sent, note: 'Handed to the mail server for delivery' },
    { label: 'Delivered', n: s.delivered, rate: s.rates.delivered, note: `No bounce ${s.deliveredAfterHours} h after sending` },
    { label: 'Awaiting bounces', n: s.pending, note: 'Sent recently: a bounce may still come' },
    { label: 'Bounced', n: s.bounced.total, rate: s.rates.bounced, note: `${formatNumber(s.bounced.hard)} hard, ${formatNumber(s.bounced.soft)} soft, ${formatNumber(s.bounced.blocked)} blocked` },
    { label: 'Complaints', n: s.complaints, rate: s.rates.complaints },
    { label: 'Unsubscribes', n: s.unsubscribes, rate: s.rates.unsubscribes },
    { label: 'Unique opens', n: s.opens.unique, rate: s.rates.uniqueOpens, note: 'Needs open tracking; some mail clients open images unread' },
    { label: 'Unique clicks', n: s.clicks.unique, rate: s.rates.uniqueClicks, note: `${formatNumber(s.clicks.scanner)} scanner clicks not counted` },
  ];
  return (
    <>
      <Table caption="Figures" rows={rows} rowKey={(r) => r.label}
        columns={[
          { label: 'Figure', render: (r) => r.label },
          { label: 'Count', numeric: true, render: (r) => <span data-testid={`figure-${r.label.toLowerCase().replace(/\s+/g, '-')}`}>{formatNumber(r.n)}</span> },
          { label: 'Rate (of sent)', numeric: true, render: (r) => (r.rate === undefined ? '' : r.rate === null ? '–' : formatPercent(r.rate)) },
          { label: 'Note', render: (r) => <span class="muted">{r.note ?? ''}</span> },
        ]} />
      {s.clicks.links.length > 0 ? (
        <Table caption="Most clicked links" rows={s.clicks.links.slice(0, 10)} rowKey={(l) => l.url}
          columns={[
            { label: 'Link', render: (l) => <span class="mono wrap">{l.url}</span> },
            { label: 'Clicks', numeric: true, render: (l) => formatNumber(l.total) },
            { label: 'Unique', numeric: true, render: (l) => formatNumber(l.unique) },
          ]} />
      ) : null}
    </>
  );
}
