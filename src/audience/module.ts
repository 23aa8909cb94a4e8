// The audience module (issue 16): segments (saved filters, live counts) and, alongside, the CSV
// import. Each part registers its routes here with one line.
import type { AppDeps, Module } from '../deps.js';
import { segmentRoutes } from './segments-api.js';
import { importsPart } from './imports-api.js';

export function audienceModule(deps: AppDeps): Module {
  const imports = importsPart(deps);
  return {
    name: 'audience',
    routes(api) {
      segmentRoutes(api, deps);
      imports.routes(api);
    },
    workers: () => imports.workers(),
    stop: () => imports.stop(),
  };
}
