// The tenant's templates (GET /api/templates, paged), each linking to its editor.
import { useSession } from '../../session';
import { ButtonLink, EmptyState, Loading, Notice, PageHeader, Pager, Table, errorMessage, formatDate, useApiList } from '../../ui';
import type { TemplateSummary } from './types';

export function TemplateList() {
  const { canWrite, timeZone } = useSession();
  const list = useApiList<TemplateSummary>('/api/templates', 50);
  return (
    <>
      <PageHeader title="Templates" subtitle="MJML email templates for campaigns. Each save keeps a new version."
        actions={canWrite ? <ButtonLink href="/console/templates/new" variant="primary">New template</ButtonLink> : null} />
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : null}
      {list.loading && !list.items.length ? <Loading what="Loading the templates" /> : null}
      {!list.loading && !list.error && !list.items.length && !list.hasPrev ? (
        <EmptyState title="No templates yet">
          {canWrite ? <ButtonLink href="/console/templates/new" variant="primary">Write the first template</ButtonLink> : null}
        </EmptyState>
      ) : null}
      {list.items.length ? (
        <Table caption="Templates" captionHidden rows={list.items} rowKey={(t) => t.id}
          columns={[
            { label: 'Name', render: (t) => <a href={`/console/templates/${t.id}`}>{t.name}</a> },
            { label: 'Version', render: (t) => t.version, numeric: true },
            { label: 'Last saved', render: (t) => formatDate(t.updatedAt, timeZone) },
          ]} />
      ) : null}
      <Pager hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} label="Template pages" />
    </>
  );
}
