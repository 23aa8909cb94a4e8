// The campaign lifecycle table (pure): every allowed transition, and every other one refused.
import { describe, expect, it } from 'vitest';
import {
  CAMPAIGN_STATES, FINAL_CAMPAIGN_STATES, INVALID, canApply, nextCampaign, pausedReasonText, transitionOf,
  type CampaignEvent, type CampaignState,
} from '../../src/campaigns/lifecycle.js';

const manualPause: CampaignEvent = { type: 'pause', reason: { by: 'manual' } };
const autoPauses: CampaignEvent[] = [
  { type: 'pause', reason: { by: 'not_compliant', reasons: ['no_postal_address'] } },
  { type: 'pause', reason: { by: 'template_error' } },
  { type: 'pause', reason: { by: 'bounce_rate', text: 'auto-paused: complaint rate 2% (2 of 100 sent) is over 0.1%' } },
];

/** Every allowed (event, from) → to; anything not listed must be INVALID. */
const ALLOWED: [CampaignEvent, CampaignState, CampaignState][] = [
  [{ type: 'schedule' }, 'draft', 'scheduled'],
  [{ type: 'schedule' }, 'scheduled', 'scheduled'],
  [{ type: 'start' }, 'draft', 'running'],
  [{ type: 'start' }, 'scheduled', 'running'],
  [manualPause, 'running', 'paused'],
  ...autoPauses.flatMap((e): [CampaignEvent, CampaignState, CampaignState][] => [[e, 'running', 'paused'], [e, 'scheduled', 'paused']]),
  [{ type: 'resume' }, 'paused', 'running'],
  [{ type: 'complete' }, 'running', 'completed'],
  [{ type: 'cancel' }, 'draft', 'cancelled'],
  [{ type: 'cancel' }, 'scheduled', 'cancelled'],
  [{ type: 'cancel' }, 'running', 'cancelled'],
  [{ type: 'cancel' }, 'paused', 'cancelled'],
];
const EVENTS: CampaignEvent[] = [{ type: 'schedule' }, { type: 'start' }, manualPause, ...autoPauses, { type: 'resume' }, { type: 'complete' }, { type: 'cancel' }];

describe('campaign lifecycle', () => {
  it.each(ALLOWED.map(([e, from, to]) => [e.type, 'reason' in e ? e.reason.by : '', from, to, e] as const))(
    '%s %s: %s → %s', (_t, _r, from, to, event) => {
      expect(nextCampaign(from, event)).toBe(to);
      expect(canApply(from, event)).toBe(true);
    });

  it('refuses every other event in every state', () => {
    for (const event of EVENTS) {
      for (const state of CAMPAIGN_STATES) {
        const allowed = ALLOWED.find(([e, from]) => JSON.stringify(e) === JSON.stringify(event) && from === state);
        expect(nextCampaign(state, event), `${event.type} from ${state}`).toBe(allowed ? allowed[2] : INVALID);
      }
    }
  });

  it('keeps completed and cancelled final', () => {
    for (const state of FINAL_CAMPAIGN_STATES) for (const event of EVENTS) expect(nextCampaign(state, event)).toBe(INVALID);
  });

  it('pauses by hand only a running campaign; automatic pauses also stop a scheduled one', () => {
    expect(nextCampaign('scheduled', manualPause)).toBe(INVALID);
    for (const e of autoPauses) expect(nextCampaign('scheduled', e)).toBe('paused');
    for (const e of [manualPause, ...autoPauses]) expect(nextCampaign('paused', e)).toBe(INVALID);
  });

  it('gives each event one target and the statuses it may start from (the guarded UPDATE)', () => {
    expect(transitionOf({ type: 'schedule' })).toEqual({ from: ['draft', 'scheduled'], to: 'scheduled' });
    expect(transitionOf({ type: 'start' })).toEqual({ from: ['draft', 'scheduled'], to: 'running' });
    expect(transitionOf(manualPause)).toEqual({ from: ['running'], to: 'paused' });
    expect(transitionOf(autoPauses[0])).toEqual({ from: ['scheduled', 'running'], to: 'paused' });
    expect(transitionOf({ type: 'resume' })).toEqual({ from: ['paused'], to: 'running' });
    expect(transitionOf({ type: 'complete' })).toEqual({ from: ['running'], to: 'completed' });
    expect(transitionOf({ type: 'cancel' })).toEqual({ from: ['draft', 'scheduled', 'running', 'paused'], to: 'cancelled' });
    for (const event of EVENTS) {
      const { from, to } = transitionOf(event);
      expect(CAMPAIGN_STATES.filter((s) => nextCampaign(s, event) !== INVALID)).toEqual(from);
      for (const s of from) expect(nextCampaign(s, event)).toBe(to);
    }
  });

  it('stores the pause reasons as before', () => {
    expect(pausedReasonText({ by: 'manual' })).toBe('manual');
    expect(pausedReasonText({ by: 'not_compliant', reasons: ['no_postal_address', 'bad_from'] })).toBe('not_compliant:no_postal_address,bad_from');
    expect(pausedReasonText({ by: 'template_error' })).toBe('template_error');
    expect(pausedReasonText({ by: 'bounce_rate', text: 'auto-paused: x' })).toBe('auto-paused: x');
  });
});
