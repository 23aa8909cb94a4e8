// One campaign: its content (editable while a draft or scheduled), the compliance pre-check, the
// schedule, the actions (start, pause, resume, cancel, delete, each confirmed), live progress (polled
// every 2 s while it is scheduled or sending) and its figures.
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api } from '../../api';
import { useSession } from '../../session';
import { Button, ButtonLink, ConfirmDialog, Loading, Notice, PageHeader, Section, errorMessage, formatDate, useAsync } from '../../ui';
import { ComplianceProblems, problemsOf, type Problem } from './compliance';
import { DraftForm } from './draft-form';
import { FiguresPanel } from './figures';
import { ProgressPanel } from './progress';
import { SchedulePanel } from './schedule';
import { STATUS_BADGE, STATUS_LABEL, type Campaign, type CampaignWithProgress, type Compliance, type Stats } from './types';

/** How often a scheduled or running campaign is read again (ms). */
export const POLL_MS = 2000;

type Action = 'start' | 'pause' | 'resume' | 'cancel' | 'delete';

/** What the page says after an action succeeded. */
const DONE: Record<Exclude<Action, 'delete'>, string> = {
  start: 'Sending has started.',
  pause: 'Sending is paused.',
  resume: 'Sending has resumed.',
  cancel: 'The campaign is cancelled.',
};

const ACTIONS: Record<Action, { label: string; title: string; text: string; danger?: boolean }> = {
  start: { label: 'Start sending now', title: 'Start sending now?', text: 'Every subscribed contact of the chosen lists (and segment) gets this campaign, starting now.' },
  pause: { label: 'Pause', title: 'Pause sending?', text: 'Nothing more is sent until you resume. Messages already handed to the mail server still arrive.' },
  resume: { label: 'Resume', title: 'Resume sending?', text: 'Sending continues where it stopped. The compliance check runs again first.' },
  cancel: { label: 'Cancel campaign', title: 'Cancel this campaign?', text: 'Recipients not yet sent to get nothing. This cannot be undone.', danger: true },
  delete: { label: 'Delete draft', title: 'Delete this campaign?', text: 'The draft is deleted. This cannot be undone.', danger: true },
};

/** The actions a status allows (lifecycle: src/campaigns/lifecycle.ts decides; this only offers the buttons). */
function actionsFor(c: Campaign): Action[] {
  switch (c.status) {
    case 'draft': return ['start', 'delete'];
    case 'scheduled': return ['start', 'cancel'];
    case 'running': return ['pause', 'cancel'];
    case 'paused': return ['resume', 'cancel'];
    default: return [];
  }
}

const editable = (c: Campaign) => (c.status === 'draft' || c.status === 'scheduled') && !c.startedAt;
const live = (c: Campaign) => c.status === 'running' || c.status === 'scheduled';

function pausedText(reason: string | null): string {
  if (!reason || reason === 'manual') return 'Paused by a staff member or an API call.';
  if (reason === 'template_error') return 'Paused automatically: the template failed to render.';
  if (reason.startsWith('not_compliant:')) return `Paused automatically: not compliant (${reason.slice('not_compliant:'.length).replace(/,/g, ', ')}).`;
  return `Paused automatically: ${reason}.`;
}

export function NewCampaign() {
  const { route } = useLocation();
  return (
    <>
      <PageHeader title="New campaign" subtitle="Save it as a draft; schedule or start it next." actions={<ButtonLink href="/console/campaigns">All campaigns</ButtonLink>} />
      <DraftForm readOnly={false} onSaved={(c) => route(`/console/campaigns/${c.id}`)} />
    </>
  );
}

export function CampaignDetail({ id }: { id: string }) {
  const { canWrite, timeZone } = useSession();
  const { route } = useLocation();
  const loaded = useAsync(() => api.get<CampaignWithProgress>(`/api/campaigns/${id}`), [id]);
  const c = loaded.data;
  const [pending, setPending] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [done, setDone] = useState('');
  const [cloning, setCloning] = useState(false);
  const [cloneError, setCloneError] = useState<string | null>(null);

  // Live: read the campaign again every POLL_MS while it is scheduled or sending.
  const polling = !!c && live(c);
  useEffect(() => {
    if (!polling) return undefined;
    let stop = false;
    const timer = setInterval(() => {
      api.get<CampaignWithProgress>(`/api/campaigns/${id}`).then((v) => { if (!stop) loaded.setData(v); }, () => undefined);
    }, POLL_MS);
    return () => { stop = true; clearInterval(timer); };
  }, [polling, id]);

  const checkable = !!c && (editable(c) || c.status === 'paused');
  const compliance = useAsync<Compliance | null>(() => (checkable ? api.get<Compliance>(`/api/campaigns/${id}/compliance`) : Promise.resolve(null)),
    [id, checkable, c?.updatedAt]);
  const started = !!c?.startedAt;
  const stats = useAsync<Stats | null>(() => (started ? api.get<Stats>(`/api/campaigns/${id}/stats`) : Promise.resolve(null)),
    [id, started, c?.status, c?.progress.sent, c?.progress.bounced, c?.progress.complained]);

  if (loaded.error && !c) {
    return (
      <>
        <PageHeader title="Campaign" actions={<ButtonLink href="/console/campaigns">All campaigns</ButtonLink>} />
        <Notice kind="error" title="The campaign could not be loaded">{errorMessage(loaded.error)}</Notice>
      </>
    );
  }
  if (!c) return <><PageHeader title="Campaign" /><Loading what="Loading the campaign" /></>;

  /** The campaign as an action answered it, keeping the progress until the next read. */
  const update = (next: Campaign) => { loaded.setData({ ...c, ...next }); void loaded.reload(); };

  async function run(action: Action) {
    setBusy(true); setActionError(null); setProblems([]);
    try {
      if (action === 'delete') {
        await api.del(`/api/campaigns/${id}`);
        setPending(null);
        route('/console/campaigns');
        return;
      }
      update(await api.post<Campaign>(`/api/campaigns/${id}/${action}`));
      setPending(null);
      setDone(DONE[action]);
      // The button that opened the dialog may be gone (Start → Pause): put focus on the result instead.
      setTimeout(() => document.getElementById('campaign-action-result')?.focus(), 0);
    } catch (err) {
      const p = problemsOf(err);
      if (p) setProblems(p);
      setActionError(p ? 'The campaign is not compliant: fix the problems listed, then try again.' : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  /** POST /api/campaigns/:id/clone, then the new draft's page. */
  async function clone() {
    setCloning(true); setCloneError(null);
    try {
      const copy = await api.post<Campaign>(`/api/campaigns/${id}/clone`);
      setDone('');
      route(`/console/campaigns/${copy.id}`);
    } catch (err) {
      setCloneError(errorMessage(err));
    } finally {
      setCloning(false);
    }
  }

  const actions = canWrite ? actionsFor(c) : [];
  const a = pending ? ACTIONS[pending] : null;

  return (
    <>
      <PageHeader title={c.name}
        subtitle={<>Status: <span class={STATUS_BADGE[c.status]} data-testid="campaign-status">{STATUS_LABEL[c.status]}</span>
          {c.startedAt ? <> · started {formatDate(c.startedAt, timeZone)}</> : null}
          {c.completedAt ? <> · completed {formatDate(c.completedAt, timeZone)}</> : null}</>}
        actions={<>
          <ButtonLink href="/console/campaigns">All campaigns</ButtonLink>
          {actions.map((x) => (
            <Button key={x} variant={ACTIONS[x].danger ? 'danger' : x === 'start' || x === 'resume' ? 'primary' : 'secondary'}
              onClick={() => { setActionError(null); setProblems([]); setPending(x); }}>{ACTIONS[x].label}</Button>
          ))}
          {canWrite ? <Button onClick={() => void clone()} busy={cloning} busyLabel="Cloning…">Clone</Button> : null}
        </>} />
      <p class="visually-hidden" role="status">{`Campaign status: ${STATUS_LABEL[c.status]}.`}</p>
      {done ? <div id="campaign-action-result" tabIndex={-1}><Notice kind="success">{done}</Notice></div> : null}
      {cloneError ? <Notice kind="error" title="The campaign was not cloned">{cloneError}</Notice> : null}
      {c.status === 'paused' ? <Notice kind="warning" title="Paused">{pausedText(c.pausedReason)}</Notice> : null}

      {started || c.status === 'running' ? (
        <Section title="Progress" id="progress">
          <ProgressPanel progress={c.progress} running={c.status === 'running'} />
        </Section>
      ) : null}
      {stats.data ? <Section title="Figures" id="figures"><FiguresPanel stats={stats.data} /></Section> : null}

      {checkable ? (
        <Section title="Compliance" id="compliance">
          {compliance.data?.compliant ? <Notice kind="success">Ready to send: the compliance check finds no problem.</Notice> : null}
          {compliance.data && !compliance.data.compliant
            ? <ComplianceProblems title="Fix these before the campaign can be sent" problems={compliance.data.reasons} /> : null}
          {compliance.error ? <Notice kind="error">{errorMessage(compliance.error)}</Notice> : null}
        </Section>
      ) : null}

      {canWrite && editable(c) ? (
        <Section title="Schedule" id="schedule">
          <SchedulePanel key={c.id} campaign={c} onChanged={(next) => { update(next); setDone('The campaign is scheduled.'); }} />
        </Section>
      ) : null}

      <Section title="Content" id="content">
        {!editable(c) ? <p class="muted">A campaign that has started cannot be edited. {canWrite ? 'Clone it (the Clone button above) to send a new version.' : ''}</p> : null}
        <DraftForm key={`${c.id}:${editable(c)}`} campaign={c} readOnly={!canWrite || !editable(c)} onSaved={(next) => update(next)} />
      </Section>

      <ConfirmDialog open={pending !== null} title={a?.title ?? ''} confirmLabel={a?.label ?? 'Confirm'} cancelLabel="Keep as is" danger={a?.danger}
        busy={busy} error={actionError} onConfirm={() => pending && void run(pending)} onCancel={() => setPending(null)}>
        <p>{a?.text}</p>
        <ComplianceProblems title="Problems" problems={problems} />
      </ConfirmDialog>
    </>
  );
}
