// API keys and webhooks: keys are shown to holders of the admin scope, webhooks to holders of events
// (marketing sees a "Webhooks" page with only them). Everything goes through /api/keys and /api/webhooks.
import { useSession } from '../session';
import { Notice, PageHeader } from '../ui';
import { AdminOnly } from '../ui/role-gate';
import { ApiKeysSection } from './keys/api-keys';
import { WebhooksSection } from './keys/webhooks';
import './keys.css';

export default function KeysPage() {
  const { can, canWrite } = useSession();
  if (!can('admin') && !can('events')) return <AdminOnly title="API keys and webhooks" what="manage API keys and webhooks" />;
  if (!can('admin')) {
    return (
      <>
        <PageHeader title="Webhooks" subtitle={canWrite ? undefined : 'Read only: your role cannot change webhooks.'} />
        <Notice kind="info">Only admins can create or revoke API keys; your role manages webhooks.</Notice>
        <WebhooksSection />
      </>
    );
  }
  return (
    <>
      <PageHeader title="API keys and webhooks" subtitle={canWrite ? undefined : 'Read only: your role cannot change keys or webhooks.'} />
      <ApiKeysSection />
      {can('events') ? <WebhooksSection /> : null}
    </>
  );
}
