// Campaign drafts (issue 16): what an edit (PATCH) or a clone of a campaign resolves to before it is
// written. A campaign that has not started may be edited: a draft freely, a scheduled one too (the
// API then re-checks compliance and moves its start job). The template version is pinned only when
// asked (a version given, or templatePinned: true); otherwise the campaign follows the template's
// latest version until it starts, and the start records the version it judged and sends.
import type { Queryable } from '../platform/db.js';
import { DomainError } from '../domain-error.js';
import { missingLists, type Campaign, type DraftContent } from './campaigns-store.js';
import { getTemplate } from './templates-store.js';

/** The fields of PATCH /api/campaigns/{id}; undefined leaves a field as it is, null clears it. */
export interface DraftPatch {
  name?: string; subject?: string; templateId?: string; templateVersion?: number; templatePinned?: boolean;
  listIds?: string[]; segmentId?: string | null; replyTo?: string | null; sendAt?: Date | null;
  trackClicks?: boolean | null; trackOpens?: boolean | null;
}

/** Statuses whose content may still change: nothing was sent yet. */
export const EDITABLE: readonly Campaign['status'][] = ['draft', 'scheduled'];

/** True when the campaign may be edited or deleted: draft or scheduled, and never started. */
export function isEditable(c: Campaign): boolean {
  return EDITABLE.includes(c.status) && c.startedAt === null;
}

/** 409 campaign_not_editable (field status) for a campaign that is running, paused, completed or cancelled. */
export function notEditable(c: Campaign, action: 'edit' | 'delete'): DomainError {
  const why = action === 'delete' ? 'only a draft or scheduled campaign that never sent can be deleted' : 'only a draft or scheduled campaign can be edited';
  return new DomainError('campaign_not_editable', `cannot ${action} a campaign that is ${c.status}: ${why}`, 'status', { status: c.status });
}

/**
 * 422 invalid naming listIds[i] for the first list that does not exist in the tenant, was deleted or
 * is archived (campaigns-store missingLists, which reads them through src/consent/lists.ts).
 */
export async function assertUsableLists(c: Queryable, ids: readonly string[]): Promise<void> {
  const missing = await missingLists(c, ids);
  if (missing.length) throw new DomainError('invalid', `no such list (or it is archived): ${missing[0]}`, `listIds[${ids.indexOf(missing[0])}]`);
}

/** Template and version after a patch: (templateId, version, pinned); 422 naming templateId or templateVersion. */
async function resolveTemplate(c: Queryable, cur: Campaign, p: DraftPatch): Promise<Pick<DraftContent, 'templateId' | 'templateVersion' | 'templatePinned'>> {
  if (p.templateVersion !== undefined && p.templatePinned === false) {
    throw new DomainError('invalid', 'templatePinned: false cannot be combined with a templateVersion (giving a version pins it)', 'templatePinned');
  }
  const latest = await getTemplate(c, p.templateId ?? cur.templateId);
  if (!latest) throw new DomainError('invalid', 'no such template', 'templateId');
  const templateId = latest.id;
  const changed = templateId !== cur.templateId;
  if (p.templateVersion !== undefined) {
    if (!(await getTemplate(c, templateId, p.templateVersion))) {
      throw new DomainError('invalid', `the template has no version ${p.templateVersion} (latest: ${latest.version})`, 'templateVersion');
    }
    return { templateId, templateVersion: p.templateVersion, templatePinned: true };
  }
  if (p.templatePinned === true) { // pin: the version pinned already (same template), else the latest
    return { templateId, templateVersion: cur.templatePinned && !changed ? cur.templateVersion : latest.version, templatePinned: true };
  }
  if (p.templatePinned === false || changed) return { templateId, templateVersion: latest.version, templatePinned: false }; // follow the latest
  return { templateId, templateVersion: cur.templateVersion, templatePinned: cur.templatePinned };
}

/**
 * The campaign's whole content after `p`, checked: the template (and version) exist, the lists exist
 * and are not archived (422 naming listIds[i]), the segment exists (`segmentExists`, 422 segmentId).
 * Subject and reply-to syntax are the caller's (zod, template validation).
 */
export async function resolvePatch(c: Queryable, cur: Campaign, p: DraftPatch, segmentExists: (id: string) => Promise<boolean>): Promise<DraftContent> {
  const template = await resolveTemplate(c, cur, p);
  if (p.listIds) await assertUsableLists(c, p.listIds);
  if (p.segmentId && !(await segmentExists(p.segmentId))) throw new DomainError('invalid', 'no such segment', 'segmentId');
  return {
    name: p.name ?? cur.name, subject: p.subject ?? cur.subject, ...template,
    listIds: p.listIds ?? cur.listIds, segmentId: p.segmentId === undefined ? cur.segmentId : p.segmentId,
    replyTo: p.replyTo === undefined ? cur.replyTo : p.replyTo, sendAt: p.sendAt === undefined ? cur.sendAt : p.sendAt,
    trackClicks: p.trackClicks === undefined ? cur.trackClicks : p.trackClicks, trackOpens: p.trackOpens === undefined ? cur.trackOpens : p.trackOpens,
  };
}

/** Longest campaign name the API accepts. */
export const MAX_NAME = 200;
const COPY_SUFFIX = ' (copy)';

/** "<name> (copy)", cut so that it stays within MAX_NAME characters (by code point). */
export function copyName(name: string): string {
  const chars = [...name];
  const room = MAX_NAME - COPY_SUFFIX.length;
  return (chars.length > room ? chars.slice(0, room).join('') : name) + COPY_SUFFIX;
}

/**
 * A clone's content: same subject, template, lists, segment and reply-to, name "<name> (copy)", no
 * sendAt (a draft is scheduled anew); the version stays pinned only when the source's was. Lists
 * deleted since are dropped; none left is 422 listIds.
 */
export async function cloneContent(c: Queryable, src: Campaign): Promise<DraftContent> {
  const gone = new Set(await missingLists(c, src.listIds));
  const live = src.listIds.filter((id) => !gone.has(id));
  if (live.length === 0) throw new DomainError('invalid', 'every list of the campaign was deleted or archived: nothing to clone it to', 'listIds');
  const latest = src.templatePinned ? null : await getTemplate(c, src.templateId);
  return {
    name: copyName(src.name), subject: src.subject, templateId: src.templateId,
    templateVersion: latest?.version ?? src.templateVersion, templatePinned: src.templatePinned,
    listIds: live, segmentId: src.segmentId, replyTo: src.replyTo, sendAt: null, trackClicks: src.trackClicks, trackOpens: src.trackOpens,
  };
}
