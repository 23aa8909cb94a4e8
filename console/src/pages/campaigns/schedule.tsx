// Scheduling: a date and time typed in the staff member's time zone (the browser's, changeable),
// with the UTC instant it names shown beside it; POST /api/campaigns/{id}/schedule sends that instant.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../../api';
import { useSession } from '../../session';
import { Button, Notice, Select, TextInput, formErrors, type FormErrors } from '../../ui';
import { ComplianceProblems, problemsOf } from './compliance';
import { isZone, timeZones, utcText, utcToZoned, zonedToUtc } from './time';
import type { Campaign } from './types';

export function SchedulePanel({ campaign, onChanged }: { campaign: Campaign; onChanged: (c: Campaign) => void }) {
  const session = useSession();
  const [zone, setZone] = useState(() => (isZone(session.timeZone) ? session.timeZone : 'UTC'));
  const [local, setLocal] = useState(() => (campaign.sendAt ? utcToZoned(campaign.sendAt, zone) : ''));
  const [errors, setErrors] = useState<FormErrors>({});
  const [problems, setProblems] = useState<{ reason: string; message: string }[]>([]);
  const [busy, setBusy] = useState(false);
  const zones = useMemo(() => timeZones(zone), [zone]);
  const utc = local ? zonedToUtc(local, zone) : null;

  async function schedule(e: Event) {
    e.preventDefault();
    setErrors({}); setProblems([]);
    if (!utc) { setErrors({ sendAt: 'Enter the date and time to send.' }); return; }
    setBusy(true);
    try {
      onChanged(await api.post<Campaign>(`/api/campaigns/${campaign.id}/schedule`, { sendAt: utc }));
    } catch (err) {
      const p = problemsOf(err);
      if (p) setProblems(p); else setErrors(formErrors(err, ['sendAt']));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="schedule-form wide" onSubmit={schedule} aria-label="Schedule" noValidate>
      {campaign.status === 'scheduled' && campaign.sendAt ? (
        <p>Scheduled for <strong>{new Intl.DateTimeFormat(undefined, { timeZone: zone, dateStyle: 'full', timeStyle: 'short' }).format(new Date(campaign.sendAt))}</strong> ({zone}),
          that is <strong data-testid="scheduled-utc">{utcText(campaign.sendAt)}</strong>.</p>
      ) : null}
      {errors._form ? <Notice kind="error">{errors._form}</Notice> : null}
      <ComplianceProblems problems={problems} title="The campaign cannot be scheduled yet" />
      <div class="form-grid">
        <TextInput label="Send at" type="datetime-local" value={local} onValue={setLocal} error={errors.sendAt} required
          hint={`In ${zone}.`} />
        <Select label="Time zone" value={zone} onValue={setZone} options={zones.map((z) => ({ value: z, label: z.replace(/_/g, ' ') }))}
          hint="Yours by default (from the browser)." />
      </div>
      <p class="utc-instant" aria-live="polite">
        {utc ? <>In UTC: <output data-testid="send-at-utc">{utcText(utc)}</output></> : 'Pick a date and time to see it in UTC.'}
      </p>
      <div class="actions">
        <Button variant="primary" type="submit" busy={busy} busyLabel="Scheduling…">{campaign.status === 'scheduled' ? 'Reschedule' : 'Schedule'}</Button>
      </div>
    </form>
  );
}
