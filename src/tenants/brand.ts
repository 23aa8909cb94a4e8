// The tenant's brand on its public pages (issue 20): name, postal address, logo, accent colour and
// privacy-policy link, as src/html.ts renderPage draws them. PURE (a type-only import of Tenant).
import type { Brand } from '../html.js';
import type { Tenant } from './store.js';

/** What a page needs of a tenant to brand itself. */
export type BrandSource = Pick<Tenant, 'name' | 'postalAddress' | 'logoUrl' | 'accentColor' | 'privacyUrl'>;

/** The Brand of a tenant's public pages. */
export function tenantBrand(t: BrandSource): Brand {
  return { name: t.name, postalAddress: t.postalAddress, logoUrl: t.logoUrl, accentColor: t.accentColor, privacyUrl: t.privacyUrl };
}
