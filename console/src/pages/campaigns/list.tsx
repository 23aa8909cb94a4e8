// The campaigns list: newest first, filtered by status (kept in the URL: ?status=running), paged.
import { useLocation, useRoute } from 'preact-iso';
import { withQuery } from '../../api';
import { useSession } from '../../session';
import { ButtonLink, EmptyState, Loading, Notice, PageHeader, Pager, Select, Table, errorMessage, formatDate, useApiList } from '../../ui';
import { CAMPAIGN_STATUSES, STATUS_BADGE, STATUS_LABEL, type Campaign, type CampaignStatus } from './types';

const isStatus = (s: string | undefined): s is CampaignStatus => !!s && (CAMPAIGN_STATUSES as readonly string[]).includes(s);

/** When a campaign went (or goes) out, in words. */
function when(c: Campaign, timeZone: string): string {
  if (c.completedAt) return `Completed ${formatDate(c.completedAt, timeZone)}`;
  if (c.cancelledAt) return `Cancelled ${formatDate(c.cancelledAt, timeZone)}`;
  if (c.startedAt) return `Started ${formatDate(c.startedAt, timeZone)}`;
  if (c.sendAt) return `${c.status === 'scheduled' ? 'Scheduled for' : 'Planned for'} ${formatDate(c.sendAt, timeZone, { zone: true })}`;
  return '';
}

export function CampaignList() {
  const { canWrite, timeZone } = useSession();
  const { query } = useRoute();
  const { route } = useLocation();
  const status = isStatus(query.status) ? query.status : '';
  const list = useApiList<Campaign>(withQuery('/api/campaigns', { status }));

  return (
    <>
      <PageHeader title="Campaigns" subtitle="Drafts, scheduled sends and what went out."
        actions={canWrite ? <ButtonLink href="/console/campaigns/new" variant="primary">New campaign</ButtonLink> : null} />
      <form class="filters" role="search" aria-label="Filter campaigns" onSubmit={(e) => e.preventDefault()}>
        <Select label="Status" value={status} onValue={(v) => route(withQuery('/console/campaigns', { status: v }), true)}
          options={[{ value: '', label: 'All statuses' }, ...CAMPAIGN_STATUSES.map((s) => ({ value: s, label: STATUS_LABEL[s] }))]} />
      </form>
      {list.error ? <Notice kind="error" title="The campaigns could not be loaded">{errorMessage(list.error)}</Notice> : null}
      {list.loading && list.items.length === 0 ? <Loading what="Loading campaigns" /> : null}
      {!list.loading && !list.error && list.items.length === 0 ? (
        <EmptyState title={status ? `No ${STATUS_LABEL[status].toLowerCase()} campaigns.` : 'No campaigns yet.'}>
          {canWrite && !status ? <ButtonLink href="/console/campaigns/new" variant="primary">Create the first campaign</ButtonLink> : null}
        </EmptyState>
      ) : null}
      {list.items.length > 0 ? (
        <Table caption={status ? `${STATUS_LABEL[status]} campaigns` : 'Campaigns'} rows={list.items} rowKey={(c) => c.id}
          columns={[
            { label: 'Name', render: (c) => <a href={`/console/campaigns/${c.id}`}>{c.name}</a> },
            { label: 'Status', render: (c) => <span class={STATUS_BADGE[c.status]}>{STATUS_LABEL[c.status]}</span> },
            { label: 'Subject', render: (c) => c.subject },
            { label: 'When', render: (c) => when(c, timeZone) },
            { label: 'Created', render: (c) => formatDate(c.createdAt, timeZone) },
          ]} />
      ) : null}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Campaign pages" />
    </>
  );
}
