// The engagement module (issue 17): click and open links of campaign mail (/c/:token, /o/:token).
// The links are put in the mail by the campaign renderer (src/campaigns/recipient.ts → links.ts
// trackHtml) when the campaign's or the tenant's trackClicks / trackOpens is on; each hit is kept in
// `engagements` (store.ts) with its event in the tenant's feed.
import type { AppDeps, Module } from '../deps.js';
import { engagementPages } from './pages.js';

export function engagementModule(deps: AppDeps): Module {
  return {
    name: 'engagement',
    routes(_api, pages) {
      engagementPages(deps, pages);
    },
  };
}
