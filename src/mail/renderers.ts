// Renderers turn a ledger row into subject, HTML and text. Each domain registers its own by
// template name ('activation', 'invoice', 'notice', 'campaign', …); the sender looks them up.
import type { TokenKeys } from '../policy/tokens.js';
import type { Tenant } from '../tenants/store.js';
import type { LedgerMessage } from './ledger.js';
import type { Queryable } from '../platform/db.js';
import type { Content } from './delivery.js';

export interface RenderContext {
  tenant: Tenant;
  message: LedgerMessage;
  /** `locale`: the contact's stored BCP 47 locale (contacts.locale), chosen first for built-in mail (mail/builtin.ts). */
  contact: { id: string; email: string | null; name: string | null; attributes: Record<string, unknown>; locale?: string | null } | null;
  publicUrl: string;
  tokens: TokenKeys;
  db: Queryable;           // the message's tenant transaction, for renderers that read stored templates
}

/** What a renderer made of one message: the delivery core's `Content` (mail/delivery.ts), one shape for both. */
export type RenderOutput = Content;

export type Renderer = (ctx: RenderContext) => Promise<RenderOutput>;

export class RendererRegistry {
  private readonly byName = new Map<string, Renderer>();
  register(name: string, r: Renderer): void {
    if (this.byName.has(name)) throw new Error(`renderer ${name} registered twice`);
    this.byName.set(name, r);
  }
  /** Exact name first ('notice:welcome'), then its family ('notice'). */
  get(template: string): Renderer | null {
    return this.byName.get(template) ?? this.byName.get(template.split(':')[0]) ?? null;
  }
}
