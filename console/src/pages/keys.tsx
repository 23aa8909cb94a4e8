// API keys and webhooks (admin): keys are shown to holders of the admin scope, webhooks to holders of
// events. Everything goes through /api/keys and /api/webhooks.
import { useSession } from '../session';
import { PageHeader } from '../ui';
import { ApiKeysSection } from './keys/api-keys';
import { WebhooksSection } from './keys/webhooks';
import './keys.css';

export default function KeysPage() {
  const { can, canWrite } = useSession();
  return (
    <>
      <PageHeader title="API keys and webhooks" subtitle={canWrite ? undefined : 'Read only: your role cannot change keys or webhooks.'} />
      {can('admin') ? <ApiKeysSection /> : null}
      {can('events') ? <WebhooksSection /> : null}
    </>
  );
}
