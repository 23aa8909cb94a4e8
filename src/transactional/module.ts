// The transactional module: invoices and necessary notices (routes, renderers) and the record of
// communications (GET /api/messages). Sending goes through the shared ledger, gate and dispatcher.
import type { AppDeps, Module } from '../deps.js';
import { renderInvoice } from './invoices.js';
import { transactionalRoutes } from './messages-api.js';
import { renderNotice } from './notices.js';

export function transactionalModule(deps: AppDeps): Module {
  return {
    name: 'transactional',
    routes(api) { transactionalRoutes(api, deps.db); },
    renderers(registry) {
      registry.register('invoice', renderInvoice);
      registry.register('notice', renderNotice);
    },
  };
}
