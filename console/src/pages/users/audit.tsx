// The staff audit log (GET /api/audit), newest first, paged; optionally one person's entries.
import { useEffect, useRef, useState } from 'preact/hooks';
import { withQuery } from '../../api';
import { useSession } from '../../session';
import { Button, EmptyState, Notice, Pager, Section, Select, Table, errorMessage, formatDate, useApiList } from '../../ui';
import { actionLabel } from './actions';
import type { AuditEntry, StaffUser } from './types';

export function AuditSection({ users, version }: { users: StaffUser[]; version: number }) {
  const { timeZone } = useSession();
  const [userId, setUserId] = useState('');
  const list = useApiList<AuditEntry>(withQuery('/api/audit', { userId: userId || undefined }), 25);
  // Reload after a change on the page (the change itself is audited).
  const seen = useRef(version);
  useEffect(() => { if (seen.current !== version) { seen.current = version; void list.reload(); } }, [version]);
  return (
    <Section id="audit" title="Audit log" actions={<Button onClick={() => void list.reload()} busy={list.loading}>Refresh</Button>}>
      <div class="audit-filter">
        <Select label="Who" value={userId} onValue={setUserId}
          options={[{ value: '', label: 'Everyone' }, ...users.map((u) => ({ value: u.id, label: u.email }))]} />
      </div>
      {list.error ? <Notice kind="error">{errorMessage(list.error)}</Notice> : null}
      {!list.loading && !list.error && list.items.length === 0 && !list.hasPrev ? <EmptyState title="Nothing recorded yet." /> : (
        <Table<AuditEntry> caption="Audit log, newest first" captionHidden rows={list.items} rowKey={(a) => a.id} columns={[
          { label: 'When', render: (a) => formatDate(a.at, timeZone, { seconds: true }) },
          { label: 'Who', render: (a) => a.userEmail },
          { label: 'What', render: (a) => (
            <>
              <span class="audit-action">{actionLabel(a.action)}</span>
              {a.method ? <span class="audit-request muted"><code class="break">{a.method} {a.path}</code></span>
                : actionLabel(a.action) !== a.action ? <span class="audit-request muted"><code>{a.action}</code></span> : null}
            </>
          ) },
          { label: 'Status', numeric: true, render: (a) => (a.status === null ? '' : String(a.status)) },
        ]} />
      )}
      <Pager label="Audit log pages" hasPrev={list.hasPrev} nextCursor={list.nextCursor} onPrev={list.prev} onNext={list.next} busy={list.loading} />
    </Section>
  );
}
