// The unsubscribe module: the public unsubscribe and preference pages (/u/:token…), and the API for
// unsubscribing, exporting and erasing a contact. The core action, unsubscribeContact, is exported
// from unsubscribe.ts for other modules (complaints in bounces, mailto unsubscribes).
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
