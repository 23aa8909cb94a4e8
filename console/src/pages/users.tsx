// Staff and the audit log (admin scope): accounts over /api/staff-users, the log over /api/audit.
import { useState } from 'preact/hooks';
import { api, type Page } from '../api';
import { useSession } from '../session';
import { PageHeader, useAsync } from '../ui';
import { AdminOnly } from '../ui/role-gate';
import { AuditSection } from './users/audit';
import { StaffSection } from './users/staff';
import type { StaffUser } from './users/types';
import './users.css';

export default function UsersPage() {
  const { can } = useSession();
  if (!can('admin')) return <AdminOnly title="Staff and audit log" what="manage staff accounts and read the audit log" />;
  return <StaffAndAudit />;
}

function StaffAndAudit() {
  const { canWrite } = useSession();
  const staff = useAsync(() => api.get<Page<StaffUser>>('/api/staff-users'), []);
  const [version, setVersion] = useState(0);
  return (
    <>
      <PageHeader title="Staff and audit log" subtitle={canWrite ? 'Who may use this console, and what each person did.' : 'Read only: your role cannot change staff accounts.'} />
      <StaffSection list={staff} onChanged={() => setVersion((v) => v + 1)} />
      <AuditSection users={staff.data?.items ?? []} version={version} />
    </>
  );
}
