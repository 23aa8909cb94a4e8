// A contact's timeline (GET /api/contacts/{id}/timeline): messages sent with their states, consent
// records (the unsubscribes among them) and bounces, newest first, paged.
import { useSession } from '../../session';
import { Loading, Notice, Pager, errorMessage, formatDate, useApiList } from '../../ui';
import { ACTION_LABEL, whoLabel, type TimelineItem } from './types';

const MESSAGE_BADGE: Record<string, string> = {
  sent: 'badge badge--ok', queued: 'badge', sending: 'badge', deferred: 'badge badge--warn', failed: 'badge badge--bad',
  bounced: 'badge badge--bad', complained: 'badge badge--bad', suppressed: 'badge badge--warn', cancelled: 'badge',
};

function Describe({ item }: { item: TimelineItem }) {
  switch (item.type) {
    case 'message':
      return (
        <>
          <span class="tl-type">Email</span> <span class={MESSAGE_BADGE[item.status] ?? 'badge'}>{item.status}</span>{' '}
          <span>{item.subject ?? `(${item.kind})`}</span> <span class="muted">· {item.kind}{item.reason ? ` · ${item.reason}` : ''}</span>
          {item.campaignId ? <> · <a href={`/console/campaigns/${item.campaignId}`}>campaign</a></> : null}
        </>
      );
    case 'consent':
      return (
        <>
          <span class="tl-type">Consent</span> <strong>{ACTION_LABEL[item.action] ?? item.action}</strong>
          {item.listName ? <> · {item.listName}</> : null} <span class="muted">· {/^by /.test(whoLabel(item.source, item.detail.by)) ? '' : 'via '}{whoLabel(item.source, item.detail.by)}</span>
          {typeof item.detail.reason === 'string' ? <span class="muted"> · {item.detail.reason}</span> : null}
        </>
      );
    case 'bounce':
      return (
        <>
          <span class="tl-type">{item.kind === 'complaint' ? 'Complaint' : 'Bounce'}</span>{' '}
          <span class={item.kind === 'hard' || item.kind === 'complaint' ? 'badge badge--bad' : 'badge badge--warn'}>{item.kind}</span>
          {item.reason ? <> {item.reason}</> : null}{item.status ? <span class="muted"> · {item.status}</span> : null}
          {item.action ? <span class="muted"> · {item.action}</span> : null}
          {item.diagnostic ? <span class="tl-diag">{item.diagnostic}</span> : null}
        </>
      );
  }
}

export function Timeline({ contactId }: { contactId: string }) {
  const { timeZone } = useSession();
  const list = useApiList<TimelineItem>(`/api/contacts/${contactId}/timeline`, 20);
  return (
    <>
      {list.error ? <Notice kind="error" title="The timeline could not be loaded">{errorMessage(list.error)}</Notice> : null}
      {list.loading && list.items.length === 0 ? <Loading what="Loading the timeline" /> : null}
      {!list.loading && !list.error && list.items.length === 0 ? <p class="muted">Nothing has happened yet.</p> : null}
      {list.items.length > 0 ? (
        <ol class="timeline" aria-label="Timeline, newest first">
          {list.items.map((i) => (
            <li key={`${i.type}:${i.id}`} class={`tl tl--${i.type}`}>
              <time dateTime={i.at}>{formatDate(i.at, timeZone, { seconds: true })}</time>
              <div><Describe item={i} /></div>
            </li>
          ))}
        </ol>
      ) : null}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Timeline pages" />
    </>
  );
}
