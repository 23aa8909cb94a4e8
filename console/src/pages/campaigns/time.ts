// Wall-clock times in an IANA time zone ↔ UTC instants, with Intl only (no library). A schedule is
// typed in the staff member's zone and sent to the API as the UTC instant it names.

const partsFormat = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = partsFormat.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    partsFormat.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at `instant` (ms), as UTC-based fields (ms since epoch of that wall time read as UTC). */
function wallMs(instant: number, timeZone: string): number {
  const parts = formatter(timeZone).formatToParts(new Date(instant));
  const n = (t: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour') % 24, n('minute'), n('second'));
}

/** The zone's offset from UTC at `instant`, in ms (Paris in winter: +3,600,000). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return wallMs(whole, timeZone) - whole;
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/**
 * The UTC instant (ISO 8601, "Z") of a wall time "YYYY-MM-DDTHH:mm" (an <input type=datetime-local>
 * value) in `timeZone`; null when the text is not such a time. A time skipped by a DST change resolves
 * to the instant an hour later, as most calendars do.
 */
export function zonedToUtc(local: string, timeZone: string): string | null {
  const m = LOCAL.exec(local);
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  if (Number.isNaN(wall)) return null;
  let guess = wall - zoneOffsetMs(wall, timeZone);
  guess = wall - zoneOffsetMs(guess, timeZone);
  return new Date(guess).toISOString();
}

/** The wall time "YYYY-MM-DDTHH:mm" in `timeZone` of an ISO instant (for a datetime-local input). */
export function utcToZoned(iso: string, timeZone: string): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  return new Date(wallMs(t, timeZone)).toISOString().slice(0, 16);
}

/** An instant written plainly in UTC: "2026-12-02 14:00 UTC". */
export const utcText = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

/** The IANA zones the browser knows (UTC first), for the zone picker. */
export function timeZones(current: string): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (k: 'timeZone') => string[] };
  const all = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  return [...new Set(['UTC', current, ...all])];
}

/** Whether `timeZone` is a zone this browser can format in. */
export function isZone(timeZone: string): boolean {
  try { formatter(timeZone); return true; } catch { return false; }
}
