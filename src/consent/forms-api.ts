// GET /api/lists/:id/form (scope subscribers): the public subscription form of a list, as the URL of
// the hosted page and an HTML snippet for the tenant's own website (see form-html.ts). Only a public,
// live list has one: a private or archived list answers 409 conflict, a deleted or unknown one 404.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { DomainError } from '../domain-error.js';
import { notFound, type Api } from '../platform/http.js';
import { isUuid } from '../policy/ids.js';
import { getTenant } from '../tenants/store.js';
import { snippetForm } from './form-html.js';
import { formWording } from './forms.js';
import { getList, type ListRow } from './lists.js';
import { storeConsentText } from './records.js';

const formView = z.object({
  url: z.string().describe('the hosted form page (PUBLIC_URL/subscribe/<list id>)'),
  html: z.string().describe('a plain <form> posting to the hosted page\'s URL: email, optional name, the consent wording, a honeypot hidden by an inline style; no script'),
});

function assertOpen(list: ListRow): void {
  if (list.visibility !== 'public') throw new DomainError('conflict', 'this list is private: it has no public subscription form', 'id');
  if (list.archivedAt) throw new DomainError('conflict', 'this list is archived: it takes no new subscribers', 'id');
}

/** Registers GET /api/lists/:id/form. */
export function formRoutes(api: Api, deps: AppDeps): void {
  const base = deps.config.PUBLIC_URL.replace(/\/+$/, '');
  api.route({
    method: 'get', path: '/api/lists/:id/form', scope: 'subscribers', response: formView, errors: [409],
    summary: 'The public subscription form of a list: the hosted page\'s URL and an embeddable HTML snippet (double opt-in)',
  }, async ({ tenantId, params }) => {
    const body = await deps.db.withTenant(tenantId, async (c) => {
      const [list, tenant] = [isUuid(params.id) ? await getList(c, params.id) : null, await getTenant(c, tenantId)];
      if (!list || !tenant) throw notFound('list');
      assertOpen(list);
      const wording = formWording(list.name, tenant.name);
      await storeConsentText(c, tenantId, wording); // a post of this snippet records the wording it shows, even after a rename
      const url = `${base}/subscribe/${list.id}`;
      return { url, html: snippetForm({ action: url, wording }) };
    });
    return { body };
  });
}
