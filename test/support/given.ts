// The one way tests make their data: `given(app, tenant)` makes lists, contacts (subscribed or
// pending), templates and campaigns for that tenant. Rows are written through the app's own store
// functions in one tenant-scoped transaction; templates and campaigns go through the HTTP API, as a
// client makes them. Large audiences are inserted in one statement (`contacts`), and a subscribed
// contact can also be made through the real double opt-in (`via: 'opt-in'`).
//
//   const { app, t } = useApp();
//   const c = await given(app, t).subscribedContact('ann@example.org', { name: 'Ann' });
//   const tpl = await given(app, t).template();
//   const campaign = await given(app, t).campaign(tpl, [await given(app, t).defaultList()]);
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { PoolClient } from 'pg';
import { setContactStatus, upsertContact, type ContactRow } from '../../src/consent/contacts.js';
import { createList, defaultList } from '../../src/consent/lists.js';
import { setSubscription } from '../../src/consent/subscriptions.js';
import type { ContactStatus, SubscriptionStatus } from '../../src/consent/state.js';
import { enqueueMessage } from '../../src/mail/ledger.js';
import type { Db } from '../../src/platform/db.js';
import { createTenant } from '../../src/tenants/store.js';
import { createStaffUser } from '../../src/staff/users.js';
import type { StaffRole } from '../../src/staff/roles.js';
import type { MessageKind } from '../../src/policy/kinds.js';
import type { TestApp, TestTenant } from './app.js';
import { ownerQuery } from './db.js';
import { confirmActivation, consent, mailsTo } from './mail.js';

export const NEWSLETTER_MJML = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{name}}, news from {{tenantName}}. City: {{attributes.city}}</mj-text>
        <mj-button href="{{unsubscribeUrl}}">Unsubscribe</mj-button>
        <mj-text><a href="{{preferencesUrl}}">Preferences</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

/** A list: 'default' (the tenant's default list), a list id, or a new list made with this name. */
export type ListRef = 'default' | string | { name: string; description?: string | null };

export interface ContactOptions {
  name?: string | null;
  attributes?: Record<string, unknown>;
  /** The lists the contact is subscribed to (default: the default list). */
  lists?: ListRef[];
}
export interface SubscribedOptions extends ContactOptions {
  /**
   * 'store' (default) writes an active, verified contact with 'subscribed' rows; 'opt-in' registers
   * through POST /api/contacts and follows the activation link of the mail, so the consent records
   * (opt-in, confirmation) exist as for a real subscriber.
   */
  via?: 'store' | 'opt-in';
}
export interface GivenContact { id: string; email: string; lists: string[] }

export interface AudienceOptions {
  /** Addresses are <prefix><i>@<domain>, i = 1..n. */
  prefix: string; n: number; listId: string; domain?: string;
  contactStatus?: 'pending' | 'active' | 'suppressed'; subscription?: SubscriptionStatus;
  /** Gives each contact the attribute { city: 'City <i>' } (default true). */
  city?: boolean;
}

export interface Given {
  /** The id of the tenant's default list. */
  defaultList(): Promise<string>;
  /** A new (non-default) list; returns its id. */
  list(name: string, o?: { description?: string | null }): Promise<string>;
  /** An active, confirmed contact subscribed to `lists` (default: the default list). */
  subscribedContact(email: string, o?: SubscribedOptions): Promise<GivenContact>;
  /** A pending contact (as an API client's first mention of an address makes it), on no list. */
  pendingContact(email: string, o?: Omit<ContactOptions, 'lists'>): Promise<GivenContact>;
  /** n contacts with one subscription each, in one statement; returns their addresses, sorted. */
  contacts(o: AudienceOptions): Promise<string[]>;
  /** A template made through the API (default: the newsletter template); returns its id. */
  template(o?: { name?: string; mjml?: string; subject?: string } & Record<string, unknown>): Promise<string>;
  /** A draft campaign made through the API; returns the API's answer (the campaign). */
  campaign(templateId: string, listIds: string[], extra?: Record<string, unknown>): Promise<any>;
  /**
   * A single message queued straight into the ledger (as the API would after its checks), for data
   * the API no longer lets through: e.g. render data that makes its renderer throw at send time.
   */
  queuedMessage(m: QueuedMessage): Promise<string>;
  /**
   * A staff console account (issue 19) of this tenant: with a password (default 'correct horse battery'),
   * or without one (then `setPasswordToken` is the secret of its one-time link). The email is unique per call.
   */
  staffUser(o?: { role?: StaffRole; email?: string; password?: string | null }): Promise<{ id: string; email: string; password: string | null; setPasswordToken: string | null }>;
}

/** The password given.staffUser sets unless told otherwise. */
export const STAFF_PASSWORD = 'correct horse battery';

export interface QueuedMessage {
  kind: MessageKind; template: string; recipient: string; contactId?: string | null;
  data: Record<string, unknown>; purpose?: string; templateVersion?: number;
}

async function resolveLists(c: PoolClient, tenantId: string, refs: readonly ListRef[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) {
    if (ref === 'default') {
      const l = await defaultList(c);
      if (!l) throw new Error('tenant has no default list');
      ids.push(l.id);
    } else if (typeof ref === 'string') {
      ids.push(ref);
    } else {
      ids.push((await createList(c, tenantId, { name: ref.name, description: ref.description ?? null, isDefault: false })).id);
    }
  }
  return ids;
}

export function given(app: TestApp, t: Pick<TestTenant, 'id' | 'api'>): Given {
  const tx = <T>(fn: (c: PoolClient) => Promise<T>) => app.pg.deps.db.withTenant(t.id, fn);
  const insertContact = async (c: PoolClient, email: string, o: ContactOptions): Promise<ContactRow> =>
    (await upsertContact(c, t.id, { email, name: o.name ?? null, attributes: o.attributes ?? {} })).contact;

  return {
    defaultList: () => tx(async (c) => (await resolveLists(c, t.id, ['default']))[0]),

    list: (name, o = {}) => tx(async (c) => (await resolveLists(c, t.id, [{ name, description: o.description ?? null }]))[0]),

    async subscribedContact(email, o = {}) {
      if (o.via === 'opt-in') {
        // newsletter: true is the API's "the default list"
        const lists = await tx((c) => resolveLists(c, t.id, o.lists ?? ['default']));
        const before = mailsTo(app, email).length;
        const r = await t.api('POST', '/api/contacts', { email, name: o.name ?? undefined, attributes: o.attributes, newsletter: o.lists ? lists : true, consent });
        if (r.status !== 201 && r.status !== 200) throw new Error(`register answered ${r.status}: ${JSON.stringify(r.body)}`);
        await confirmActivation(app, email, before + 1);
        return { id: r.body.id as string, email, lists };
      }
      return tx(async (c) => {
        const contact = await insertContact(c, email, o);
        await setContactStatus(c, contact.id, 'active', true);
        const lists = await resolveLists(c, t.id, o.lists ?? ['default']);
        for (const l of lists) await setSubscription(c, t.id, contact.id, l, 'subscribed');
        return { id: contact.id, email, lists };
      });
    },

    async staffUser(o = {}) {
      const email = o.email ?? `staff-${randomUUID().slice(0, 8)}@example.org`;
      const password = o.password === null ? null : o.password ?? STAFF_PASSWORD;
      const made = await createStaffUser(app.pg.deps.db, { tenantId: t.id, email, role: o.role ?? 'admin', password: password ?? undefined });
      return { id: made.user.id, email: made.user.email, password, setPasswordToken: made.setPasswordToken };
    },

    pendingContact: (email, o = {}) => tx(async (c) => {
      const contact = await insertContact(c, email, o);
      return { id: contact.id, email, lists: [] };
    }),

    contacts: (o) => audience(app.db.url, t.id, o),

    async template(o = {}) {
      const r = await t.api('POST', '/api/templates', { name: 'Newsletter', mjml: NEWSLETTER_MJML, subject: 'News for {{name}}', ...o });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body.id as string;
    },

    queuedMessage: (m) => tx(async (c) => (await enqueueMessage(c, {
      tenantId: t.id, purpose: m.purpose ?? `notice:${randomUUID()}`, kind: m.kind, contactId: m.contactId ?? null,
      recipient: m.recipient, template: m.template, templateVersion: m.templateVersion, data: m.data,
    })).message.id),

    async campaign(templateId, listIds, extra = {}) {
      const r = await t.api('POST', '/api/campaigns', { name: 'Spring', subject: 'Spring news for {{name}}', templateId, listIds, ...extra });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      return r.body;
    },
  };
}

/**
 * n contacts <prefix><i>@<domain> with one subscription each, in one statement on an owner
 * connection (for audiences of thousands, and for tests that have a database but no app).
 */
export async function audience(dbUrl: string, tenantId: string, o: AudienceOptions): Promise<string[]> {
  const status: ContactStatus = o.contactStatus ?? 'active';
  const rows = await ownerQuery<{ email: string }>(dbUrl, `WITH c AS (
      INSERT INTO contacts (tenant_id, email, email_key, name, attributes, status, verified_at)
      SELECT $1, $2 || i || '@' || $3, lower($2 || i || '@' || $3), 'Reader ' || i,
        CASE WHEN $8 THEN jsonb_build_object('city', 'City ' || i) ELSE '{}'::jsonb END, $4,
        CASE WHEN $4 = 'active' THEN now() END
      FROM generate_series(1, $5::int) AS i RETURNING id, email)
    , s AS (INSERT INTO subscriptions (tenant_id, contact_id, list_id, status) SELECT $1, c.id, $6, $7 FROM c)
    SELECT email FROM c`, [tenantId, o.prefix, o.domain ?? 'inbox.example', status, o.n, o.listId, o.subscription ?? 'subscribed', o.city ?? true]);
  return rows.map((r) => r.email).sort();
}

/**
 * A tenant row (with its default list) straight through the store, for tests without a running app
 * (the CLI's): `name`, From news@acme.org, a postal address. Returns its id.
 */
export async function tenantRow(db: Db, name: string): Promise<string> {
  const id = randomUUID();
  await createTenant(db, { name, fromEmail: 'news@acme.org', fromName: name, replyTo: 'support@acme.org', postalAddress: '1 Main St' }, id);
  return id;
}
