// The dashboard's days (PURE): hourly campaign figures (UTC hours) folded into calendar days of a
// time zone, with Intl's time-zone data only. No I/O, no adapters.

/** The hourly figures folded here (a subset of campaigns/stats.ts TenantHour: the same field names). */
export interface HourInput {
  hour: Date; sent: number; bounced: number; hard: number; soft: number; blocked: number;
  complaints: number; unsubscribes: number; bouncedOfSent: number;
}

/** One calendar day in the asked time zone (date: YYYY-MM-DD, local). */
export interface DayFigures {
  date: string;
  /** Campaign messages accepted by the relay. */
  sent: number;
  /** Of those sent that day, not bounced, and sent at least deliveredAfterHours ago (whole UTC hours). */
  delivered: number;
  /** Of those sent that day, not bounced, sent more recently: a bounce may still come. */
  pending: number;
  /** Messages with a first bounce that day (any kind); hard, soft, blocked: each kind's first. */
  bounced: number; hard: number; soft: number; blocked: number;
  complaints: number; unsubscribes: number;
}

const FIGURES = ['sent', 'delivered', 'pending', 'bounced', 'hard', 'soft', 'blocked', 'complaints', 'unsubscribes'] as const;
type Figure = (typeof FIGURES)[number];

/** Is `tz` an IANA time zone this runtime knows (e.g. Europe/Paris, UTC)? */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const formats = new Map<string, Intl.DateTimeFormat>();
/** One formatter per time zone (making one costs about a millisecond; a 90-day fold formats 2,000 hours). */
function dateFormat(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' });
    if (formats.size >= 100) formats.clear();
    formats.set(tz, f);
  }
  return f;
}

/** The calendar date (YYYY-MM-DD) of instant `at` in time zone `tz` (a valid one: isTimeZone). */
export function localDate(at: Date, tz: string): string {
  const parts = dateFormat(tz).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The `days` calendar dates ending with today's in `tz` (oldest first). */
export function lastDates(now: Date, days: number, tz: string): string[] {
  const [y, m, d] = localDate(now, tz).split('-').map(Number);
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) out.push(new Date(Date.UTC(y, m - 1, d - i)).toISOString().slice(0, 10));
  return out;
}

/**
 * Folds UTC hours into the last `days` local days of `tz` (today included; oldest first; every day
 * present, zeros where nothing happened). An hour goes to the day its start falls on (in a zone with
 * a half-hour offset, an hour straddling midnight counts for the day it starts in). Hours before the
 * first day are ignored. delivered/pending split each hour's sent − bouncedOfSent by whether the
 * hour's end is `deliveredAfterHours` before `now`.
 */
export function foldDays(hours: readonly HourInput[], o: { now: Date; days: number; timeZone: string; deliveredAfterHours: number }): DayFigures[] {
  const dates = lastDates(o.now, o.days, o.timeZone);
  const byDate = new Map<string, DayFigures>(dates.map((date) => [date, { date, ...zeros() }]));
  for (const h of hours) {
    const day = byDate.get(localDate(h.hour, o.timeZone));
    if (!day) continue;
    const ok = h.sent - h.bouncedOfSent;
    const mature = h.hour.getTime() + (1 + o.deliveredAfterHours) * 3_600_000 <= o.now.getTime();
    day.sent += h.sent; day.bounced += h.bounced; day.hard += h.hard; day.soft += h.soft; day.blocked += h.blocked;
    day.complaints += h.complaints; day.unsubscribes += h.unsubscribes;
    if (mature) day.delivered += ok; else day.pending += ok;
  }
  return dates.map((date) => byDate.get(date) as DayFigures);
}

/** The sums of the days' figures. */
export function sumDays(days: readonly DayFigures[]): Omit<DayFigures, 'date'> {
  const t = zeros();
  for (const d of days) for (const k of FIGURES) t[k] += d[k];
  return t;
}

function zeros(): Record<Figure, number> {
  return { sent: 0, delivered: 0, pending: 0, bounced: 0, hard: 0, soft: 0, blocked: 0, complaints: 0, unsubscribes: 0 };
}

/** The complaint rate the dashboard warns at (0.25 %): near the 0.3 % Google and Yahoo ask bulk senders to stay under. */
export const COMPLAINT_WARN_RATE = 0.0025;
/** The complaint rate Google and Yahoo ask bulk senders never to reach (0.3 %). */
export const COMPLAINT_LIMIT_RATE = 0.003;
/** The window of the complaint rate, in days. */
export const COMPLAINT_WINDOW_DAYS = 30;

/** Complaints over sent of the hours from the one COMPLAINT_WINDOW_DAYS before `now` on (rate null while nothing was sent). */
export function complaintRate(hours: readonly HourInput[], now: Date): { sent: number; complaints: number; rate: number | null } {
  const since = now.getTime() - COMPLAINT_WINDOW_DAYS * 86_400_000;
  const from = since - (since % 3_600_000); // the start of the UTC hour the window starts in
  let sent = 0; let complaints = 0;
  for (const h of hours) if (h.hour.getTime() >= from) { sent += h.sent; complaints += h.complaints; }
  return { sent, complaints, rate: sent > 0 ? complaints / sent : null };
}
