// The webhooks module (issue 17): the /api/webhooks routes everywhere, the delivery worker in
// worker-role processes only.
import type { AppDeps, Module } from '../deps.js';
import { WebhookDispatcher } from './dispatcher.js';
import { parseSchedule } from './schedule.js';
import { WebhookClient } from './send.js';
import { webhookRoutes } from './webhooks-api.js';

export function webhooksModule(deps: AppDeps): Module {
  let dispatcher: WebhookDispatcher | null = null;
  return {
    name: 'webhooks',
    routes(api) { webhookRoutes(api, deps); },
    async start() {
      if (!deps.roles.worker) return;
      const c = deps.config;
      const client = new WebhookClient({ allowPrivate: c.WEBHOOK_ALLOW_PRIVATE, timeoutMs: c.WEBHOOK_TIMEOUT_MS });
      dispatcher = new WebhookDispatcher(deps.db, client, deps.log, {
        pollMs: c.WEBHOOK_POLL_MS, concurrency: c.WEBHOOK_CONCURRENCY, endpointConcurrency: c.WEBHOOK_ENDPOINT_CONCURRENCY, timeoutMs: c.WEBHOOK_TIMEOUT_MS, schedule: parseSchedule(c.WEBHOOK_RETRY_SCHEDULE),
      });
      await dispatcher.start();
    },
    stop: async () => { await dispatcher?.stop(); },
  };
}
