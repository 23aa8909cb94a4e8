// The compliance pre-check as the API answers it (GET /api/campaigns/{id}/compliance, or the
// reasons of a 422 not_compliant): every reason the campaign could not be sent, in the server's words.
import { isApiFailure } from '../../api';
import { Notice } from '../../ui';
import { reasonLabel } from './types';

export interface Problem { reason: string; message: string }

/** The reasons of a 422 not_compliant failure; null for any other error. */
export function problemsOf(err: unknown): Problem[] | null {
  if (!isApiFailure(err) || err.code !== 'not_compliant') return null;
  const details = err.details.details;
  if (Array.isArray(details)) return details as Problem[];
  const reasons = Array.isArray(err.details.reasons) ? err.details.reasons as string[] : [];
  return reasons.length ? reasons.map((r) => ({ reason: r, message: reasonLabel(r) })) : [{ reason: 'not_compliant', message: err.message }];
}

/** The problems as a warning list; nothing when there are none. */
export function ComplianceProblems({ problems, title }: { problems: Problem[]; title: string }) {
  if (problems.length === 0) return null;
  return (
    <Notice kind="warning" title={title}>
      <ul class="problems">
        {problems.map((p) => <li key={p.reason} data-reason={p.reason}>{p.message || reasonLabel(p.reason)}</li>)}
      </ul>
    </Notice>
  );
}
