// The dashboard's day folding (src/dashboard/days.ts, pure) and warnings (dashboard.ts warnings()):
// UTC hours into calendar days of a time zone, delivered vs pending, the 30-day complaint rate.
import { describe, expect, it } from 'vitest';
import { complaintRate, foldDays, isTimeZone, lastDates, localDate, sumDays, type HourInput } from '../../src/dashboard/days.js';
import { warnings } from '../../src/dashboard/dashboard.js';

const hour = (iso: string, f: Partial<HourInput> = {}): HourInput => ({
  hour: new Date(iso), sent: 0, bounced: 0, hard: 0, soft: 0, blocked: 0, complaints: 0, unsubscribes: 0, bouncedOfSent: 0, ...f,
});

describe('days', () => {
  it('knows IANA zones and refuses others', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });

  it('lists the last days of the zone, today last, across a month end', () => {
    const now = new Date('2026-12-01T03:00:00Z');
    expect(lastDates(now, 3, 'UTC')).toEqual(['2026-11-29', '2026-11-30', '2026-12-01']);
    // 03:00 UTC is still 30 November in New York, already 1 December in Tokyo.
    expect(lastDates(now, 2, 'America/New_York')).toEqual(['2026-11-29', '2026-11-30']);
    expect(localDate(now, 'Asia/Tokyo')).toBe('2026-12-01');
  });

  it('puts each UTC hour in the local day it starts in', () => {
    const now = new Date('2026-12-02T12:00:00Z');
    const hours = [hour('2026-12-01T23:00:00Z', { sent: 5 }), hour('2026-12-02T01:00:00Z', { sent: 7, complaints: 1 })];
    const utc = foldDays(hours, { now, days: 2, timeZone: 'UTC', deliveredAfterHours: 0 });
    expect(utc.map((d) => [d.date, d.sent])).toEqual([['2026-12-01', 5], ['2026-12-02', 7]]);
    // In Berlin (UTC+1) 23:00 UTC is already 2 December.
    const berlin = foldDays(hours, { now, days: 2, timeZone: 'Europe/Berlin', deliveredAfterHours: 0 });
    expect(berlin.map((d) => [d.date, d.sent, d.complaints])).toEqual([['2026-12-01', 0, 0], ['2026-12-02', 12, 1]]);
    // In Los Angeles (UTC-8) both are still 1 December; today (2 December there since 08:00 UTC) has nothing.
    const la = foldDays(hours, { now, days: 2, timeZone: 'America/Los_Angeles', deliveredAfterHours: 0 });
    expect(la.map((d) => [d.date, d.sent])).toEqual([['2026-12-01', 12], ['2026-12-02', 0]]);
  });

  it('splits sent minus its bounces into delivered and pending by the hour\'s end, and ignores hours before the first day', () => {
    const now = new Date('2026-12-02T12:30:00Z');
    const hours = [
      hour('2026-11-20T10:00:00Z', { sent: 100 }), // before the window
      hour('2026-12-02T09:00:00Z', { sent: 10, bouncedOfSent: 2, bounced: 2, hard: 1, soft: 1 }), // ends 10:00, +2 h = 12:00 ≤ now
      hour('2026-12-02T10:00:00Z', { sent: 4, bouncedOfSent: 1 }), // ends 11:00, +2 h = 13:00 > now
    ];
    const [day] = foldDays(hours, { now, days: 1, timeZone: 'UTC', deliveredAfterHours: 2 });
    expect(day).toMatchObject({ date: '2026-12-02', sent: 14, delivered: 8, pending: 3, bounced: 2, hard: 1, soft: 1 });
    expect(sumDays([day, day]).sent).toBe(28);
  });

  it('counts the complaint rate over the last 30 days only', () => {
    const now = new Date('2026-12-02T12:30:00Z');
    const r = complaintRate([
      hour('2026-10-01T00:00:00Z', { sent: 1000, complaints: 50 }),
      hour('2026-11-02T12:00:00Z', { sent: 1000, complaints: 2 }), // the hour the window starts in
      hour('2026-12-01T08:00:00Z', { sent: 1000, complaints: 1 }),
    ], now);
    expect(r).toEqual({ sent: 2000, complaints: 3, rate: 0.0015 });
    expect(complaintRate([], now).rate).toBeNull();
  });
});

describe('warnings', () => {
  const base = { fromEmail: 'news@acme.org', verified: ['acme.org'], pending: [], publicUrl: 'https://p.example', complaints: { sent: 0, complaints: 0, rate: null } };

  it('says nothing when all is well', () => {
    expect(warnings(base)).toEqual([]);
  });

  it('names an unverified sender domain, pending domains and an http PUBLIC_URL', () => {
    const w = warnings({ ...base, verified: [], pending: ['mail.acme.org', 'x.example'], publicUrl: 'http://p.example' });
    expect(w.map((x) => [x.code, x.severity])).toEqual([['sender_domain_unverified', 'critical'], ['unverified_domains', 'warning'], ['insecure_public_url', 'warning']]);
    expect(w[0].domains).toEqual(['acme.org']);
    expect(w[1].domains).toEqual(['mail.acme.org', 'x.example']);
    expect(w[2].message).toContain('http://p.example');
  });

  it('warns at 0.25 % complaints and calls 0.3 % critical, with the numbers', () => {
    expect(warnings({ ...base, complaints: { sent: 10000, complaints: 24, rate: 0.0024 } })).toEqual([]);
    const near = warnings({ ...base, complaints: { sent: 10000, complaints: 25, rate: 0.0025 } });
    expect(near).toEqual([expect.objectContaining({ code: 'complaint_rate', severity: 'warning', complaints: 25, sent: 10000, rate: 0.0025, warnAt: 0.0025, limit: 0.003 })]);
    expect(near[0].message).toContain('0.25%');
    expect(warnings({ ...base, complaints: { sent: 1000, complaints: 3, rate: 0.003 } })[0].severity).toBe('critical');
  });

  it('warns, as critical, of a reply-to the gate refuses and of a missing postal address', () => {
    const ok = { ...base, replyTo: 'help@acme.org', postalAddress: '1 Main St' };
    expect(warnings(ok)).toEqual([]);
    const w = warnings({ ...ok, replyTo: 'hello@postgate.localhost', postalAddress: '  ' });
    expect(w.map((x) => [x.code, x.severity])).toEqual([['no_reply_to', 'critical'], ['no_postal_address', 'critical']]);
    expect(w[0].message).toContain('hello@postgate.localhost');
    expect(warnings({ ...ok, replyTo: 'noreply@acme.org' }).map((x) => x.code)).toEqual(['no_reply_to']);
  });
});
