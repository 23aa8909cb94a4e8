// Campaign lifecycle (PURE): which status changes a campaign may make, as one table. Every status
// change (the API, the start job, the drain, the bounce auto-pause) goes through it; the store
// derives each UPDATE's allowed `from` statuses and its target from here (campaigns-store.ts).
//
//   schedule: draft, scheduled → scheduled          (a scheduled campaign may be rescheduled)
//   start:    draft, scheduled → running            (API "start now", or the due start job)
//   pause:    manual:    running → paused
//             automatic: running, scheduled → paused  (not compliant at start or while sending,
//                        template error, hard-bounce or complaint rate over the limit)
//   resume:   paused → running
//   complete: running → completed                   (the drain, once nothing is left to send)
//   cancel:   draft, scheduled, running, paused → cancelled
// completed and cancelled are final. Anything else is INVALID (the API answers 409 invalid_state).

export type CampaignState = 'draft' | 'scheduled' | 'running' | 'paused' | 'cancelled' | 'completed';
export const CAMPAIGN_STATES: readonly CampaignState[] = ['draft', 'scheduled', 'running', 'paused', 'cancelled', 'completed'];
export const FINAL_CAMPAIGN_STATES: readonly CampaignState[] = ['cancelled', 'completed'];

/** Why a campaign is paused; `pausedReasonText` is what the campaign's `paused_reason` stores. */
export type PauseReason =
  | { by: 'manual' }
  | { by: 'not_compliant'; reasons: readonly string[] }
  | { by: 'template_error' }
  /** A hard-bounce or complaint rate over its limit; `text` says which and by how much. */
  | { by: 'bounce_rate'; text: string };

export type CampaignEvent =
  | { type: 'schedule' }
  | { type: 'start' }
  | { type: 'pause'; reason: PauseReason }
  | { type: 'resume' }
  | { type: 'complete' }
  | { type: 'cancel' };
export type CampaignEventType = CampaignEvent['type'];

export const INVALID = 'invalid' as const;
export type Invalid = typeof INVALID;

type Table = Record<CampaignEventType, Partial<Record<CampaignState, CampaignState>>>;

/** The table: event → (from → to). Pauses other than manual are widened below. */
const TABLE: Table = {
  schedule: { draft: 'scheduled', scheduled: 'scheduled' },
  start: { draft: 'running', scheduled: 'running' },
  pause: { running: 'paused' },
  resume: { paused: 'running' },
  complete: { running: 'completed' },
  cancel: { draft: 'cancelled', scheduled: 'cancelled', running: 'cancelled', paused: 'cancelled' },
};
/** Automatic pauses also stop a scheduled campaign before it starts (e.g. not compliant at start time). */
const AUTOMATIC_PAUSE: Partial<Record<CampaignState, CampaignState>> = { running: 'paused', scheduled: 'paused' };

function row(event: CampaignEvent): Partial<Record<CampaignState, CampaignState>> {
  if (event.type === 'pause' && event.reason.by !== 'manual') return AUTOMATIC_PAUSE;
  return TABLE[event.type];
}

/** The status after `event`, or INVALID when the event is not allowed in `state`. */
export function nextCampaign(state: CampaignState, event: CampaignEvent): CampaignState | Invalid {
  return row(event)[state] ?? INVALID;
}

export function canApply(state: CampaignState, event: CampaignEvent): boolean {
  return nextCampaign(state, event) !== INVALID;
}

/**
 * What a guarded UPDATE needs: the statuses the event may start from and the one status it leads
 * to (every event has a single target, whatever the start).
 */
export function transitionOf(event: CampaignEvent): { from: CampaignState[]; to: CampaignState } {
  const r = row(event);
  const from = CAMPAIGN_STATES.filter((s) => r[s] !== undefined);
  const targets = new Set(from.map((s) => r[s] as CampaignState));
  if (targets.size !== 1) throw new Error(`campaign event ${event.type} has no single target`);
  return { from, to: [...targets][0] };
}

/** The `paused_reason` text of a pause (unchanged from before the table existed). */
export function pausedReasonText(reason: PauseReason): string {
  switch (reason.by) {
    case 'manual': return 'manual';
    case 'not_compliant': return `not_compliant:${reason.reasons.join(',')}`;
    case 'template_error': return 'template_error';
    case 'bounce_rate': return reason.text;
  }
}
