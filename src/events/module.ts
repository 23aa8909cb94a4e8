// The events module (issue 17): the tenant's event feed over the API. Rows are written by migration
// 074's triggers and by appendEvent (src/events/feed.ts); retention runs in the maintenance cron.
import type { AppDeps, Module } from '../deps.js';
import { eventRoutes } from './events-api.js';

export function eventsModule(deps: AppDeps): Module {
  return {
    name: 'events',
    routes(api) { eventRoutes(api, deps.db); },
  };
}
