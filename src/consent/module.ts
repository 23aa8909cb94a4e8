// The consent module: contacts, lists, subscriptions and suppression management over the API, the double opt-in activation
// email (renderer 'activation') and its public pages (/a/:token), and the public subscription form of each public
// list (/subscribe/:listId, the snippet at GET /api/lists/:id/form).
import type { AppDeps, Module } from '../deps.js';
import { renderActivation } from './activation-email.js';
import { activationPages } from './activation-pages.js';
import { contactRoutes } from './contacts-api.js';
import { listRoutes } from './lists-api.js';
import { formRoutes } from './forms-api.js';
import { formPages } from './form-pages.js';
import { suppressionRoutes } from './suppressions-api.js';

export function consentModule(deps: AppDeps): Module {
  return {
    name: 'consent',
    routes(api, pages) {
      contactRoutes(api, deps);
      listRoutes(api, deps);
      formRoutes(api, deps);
      suppressionRoutes(api, deps);
      activationPages(pages, deps.db, deps.tokens);
      formPages(pages, deps);
    },
    renderers(registry) {
      registry.register('activation', renderActivation);
    },
  };
}
