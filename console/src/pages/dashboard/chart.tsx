// A uPlot line chart of daily figures with its text alternative: a summary line (totals) and the
// same figures as a table under a disclosure. The canvas is decorative for assistive technology
// (aria-hidden); the legend is ours (colour and dash pattern, so colour is not the only cue).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Table, formatNumber } from '../../ui';
import type { DayFigures } from './types';

export interface ChartSeries { key: keyof Omit<DayFigures, 'date'>; label: string; color: string; dash?: number[] }

const DASH_CSS = (dash?: number[]) => (dash ? 'dashed' : 'solid');

/** Days at 00:00 UTC in unix seconds (the x axis is drawn in UTC so each tick shows the series' own date). */
const xOf = (date: string) => Date.parse(`${date}T00:00:00Z`) / 1000;
/** Whole-number steps of the count axis (no 0.2 of a message). */
const COUNT_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 2.5e5, 5e5, 1e6, 2e6, 5e6, 1e7];
const DAY_LABEL = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' });

export function DailyChart({ id, title, days, series }: { id: string; title: string; days: DayFigures[]; series: ChartSeries[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = () => Math.max(240, el.clientWidth);
    const xs = days.map((d) => xOf(d.date));
    const opts: uPlot.Options = {
      width: width(), height: 220,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [
        {
          stroke: '#374151', grid: { stroke: '#e5e7eb' },
          // one tick per day, or every n-th day (today always): about one label per 70 px, at most 8
          splits: (u) => {
            const step = Math.ceil(xs.length / Math.max(2, Math.min(8, Math.floor(u.width / 70))));
            return xs.filter((_x, i) => (xs.length - 1 - i) % step === 0);
          },
          values: (_u, ticks) => ticks.map((t) => DAY_LABEL.format(new Date(t * 1000))),
        },
        { stroke: '#374151', grid: { stroke: '#e5e7eb' }, incrs: COUNT_STEPS, values: (_u, ticks) => ticks.map((t) => formatNumber(t)) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: days.length <= 31 } }))],
    };
    const data: uPlot.AlignedData = [xs, ...series.map((s) => days.map((d) => d[s.key]))];
    const plot = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.destroy(); };
  }, [days, series]);

  const totals = series.map((s) => `${s.label} ${formatNumber(days.reduce((a, d) => a + d[s.key], 0))}`).join(', ');
  const peak = series[0] ? days.reduce<DayFigures | null>((best, d) => (!best || d[series[0].key] > best[series[0].key] ? d : best), null) : null;
  return (
    <figure class="chart card" aria-labelledby={`${id}-title`}>
      <figcaption>
        <h3 id={`${id}-title`}>{title}</h3>
        <p class="chart-summary" id={`${id}-summary`}>
          Over {days.length} day{days.length === 1 ? '' : 's'}: {totals}.
          {peak && peak[series[0].key] > 0 ? ` Most ${series[0].label.toLowerCase()} on ${peak.date} (${formatNumber(peak[series[0].key])}).` : ''}
        </p>
        <ul class="chart-legend" aria-hidden="true">
          {series.map((s) => <li key={s.key}><span class="swatch" style={{ borderTopColor: s.color, borderTopStyle: DASH_CSS(s.dash) }} />{s.label}</li>)}
        </ul>
      </figcaption>
      <div class="chart-canvas" ref={box} aria-hidden="true" />
      <details class="chart-data">
        <summary>{title}: the figures as a table</summary>
        <Table caption={`${title} per day`} captionHidden rowKey={(d) => d.date} rows={days}
          columns={[{ label: 'Day', render: (d) => d.date }, ...series.map((s) => ({ label: s.label, numeric: true, render: (d: DayFigures) => formatNumber(d[s.key]) }))]} />
      </details>
    </figure>
  );
}
