// The data-rights module: a person's export (GET /api/contacts/:id/export) and erasure
// (DELETE /api/contacts/:id). Both read or change rows of many tables; they are the declared
// exceptions to one owner per table.
import type { AppDeps, Module } from '../deps.js';
import { dataRightsApi } from './api.js';

export function dataRightsModule(deps: AppDeps): Module {
  return {
    name: 'data-rights',
    routes(api) {
      dataRightsApi(deps, api);
    },
  };
}
