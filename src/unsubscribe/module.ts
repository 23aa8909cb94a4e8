// The unsubscribe module: the public unsubscribe and preference pages (/u/:token…), and the API for
// unsubscribing a contact. Every way out calls the one opt-out action, unsubscribeContact in
// consent/unsubscribe.ts (consent owns subscriptions and consent records); so do the contacts API,
// complaints and mailto unsubscribes in bounces.
import type { AppDeps, Module } from '../deps.js';
import { unsubscribeApi } from './api.js';
import { unsubscribePages } from './pages.js';

export function unsubscribeModule(deps: AppDeps): Module {
  return {
    name: 'unsubscribe',
    routes(api, pages) {
      unsubscribeApi(deps, api);
      unsubscribePages(deps, pages);
    },
  };
}
