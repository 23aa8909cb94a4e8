// Bounces and suppressions: the suppression list (filters, add, remove with a required reason) and the
// recorded bounces (filters, the raw report as text). Bounces need the admin scope; without it the
// section says so instead of failing.
import { useSession } from '../session';
import { Notice, PageHeader } from '../ui';
import { BounceList } from './suppressions/bounce-list';
import { SuppressionList } from './suppressions/suppression-list';
import './suppressions.css';

export default function SuppressionsPage() {
  const { can } = useSession();
  return (
    <>
      <PageHeader title="Bounces and suppressions" subtitle="Who gets no mail and why; remove a wrong suppression with a reason." />
      <SuppressionList />
      {can('admin') ? <BounceList /> : <Notice kind="info">Bounce reports are shown to administrators.</Notice>}
    </>
  );
}
