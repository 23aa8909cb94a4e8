// The dashboard module (issue 19): GET /api/dashboard, a read over the campaign figures, the ledger's
// open work and the sending domains (src/dashboard/dashboard.ts).
import type { AppDeps, Module } from '../deps.js';
import { dashboardRoutes } from './dashboard-api.js';

export function dashboardModule(deps: AppDeps): Module {
  return {
    name: 'dashboard',
    routes(api) { dashboardRoutes(api, deps); },
  };
}
