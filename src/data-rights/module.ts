// The data-rights module: a person's export (GET /api/contacts/:id/export) and erasure
// (DELETE /api/contacts/:id), and the same two rights in the person's own hands from the preference
// page (self-service*.ts: mailed links, public pages, the 'data-export' and 'data-erasure' mails).
// Export and erasure read or change rows of many tables; they are the declared exceptions to one
// owner per table.
import type { AppDeps, Module } from '../deps.js';
import { dataRightsApi } from './api.js';
import { selfServicePages } from './self-service-pages.js';
import { registerRightsRenderers } from './self-service-email.js';

export function dataRightsModule(deps: AppDeps): Module {
  return {
    name: 'data-rights',
    routes(api, pages) {
      dataRightsApi(deps, api);
      selfServicePages(deps, pages);
    },
    renderers(registry) {
      registerRightsRenderers(registry);
    },
  };
}
