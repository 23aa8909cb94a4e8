// `postgate suppression list | add | remove`: the CLI face of suppression-admin.ts (the same rules and
// validation as /api/suppressions; recorded as done by 'cli'). Errors: a usage error for a missing
// option or an unknown tenant; a domain error prints its code and the option at fault.
import { parseArgs } from 'node:util';
import { DomainError } from '../domain-error.js';
import type { Db } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { getTenant } from '../tenants/store.js';
import {
  addManualSuppression, addSuppressionSchema, listSuppressionPage, removeSuppressionSchema,
  suppressionsQuery, unsuppressAddress, validateInput, type SuppressionItem,
} from './suppression-admin.js';

export interface CliIo {
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  usage(message: string): Error;
  out(text: string): void;
}

const ACTOR = { kind: 'cli' } as const;

function line(i: SuppressionItem): string {
  const source = Object.entries(i.source).filter(([k, v]) => k !== 'type' && v !== null && v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join(' ');
  return [i.createdAt, i.scope.padEnd(9), i.reason.padEnd(12), i.address ?? '(erased or unknown)', `[${i.source.type}${source ? ` ${source}` : ''}]`,
    i.createdBy ? `by ${i.createdBy}` : '', i.note ? `note: ${i.note}` : ''].filter(Boolean).join('  ');
}

/** A domain error as one line naming the option at fault. */
function asCliError(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  const field = err.field ? err.field.replace(/^query\./, '') : null;
  const message = field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field!.length + 2) : err.message;
  return new Error(`${err.code}${field ? ` (--${field})` : ''}: ${message}`);
}

export async function suppressionCommand(sub: 'list' | 'add' | 'remove', argv: string[], io: CliIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    tenant: { type: 'string' }, address: { type: 'string' }, scope: { type: 'string' }, reason: { type: 'string' },
    note: { type: 'string' }, since: { type: 'string' }, until: { type: 'string' }, json: { type: 'boolean' } } });
  const tenant = values.tenant?.trim();
  if (!tenant) throw io.usage('--tenant is required');
  if (sub !== 'list' && !values.address?.trim()) throw io.usage('--address is required');
  if (sub !== 'list' && values.reason === undefined) throw io.usage('--reason is required');
  try {
    await io.withDb(async (db) => {
      const known = isUuid(tenant) && await db.withTenant(tenant, (c) => getTenant(c, tenant));
      if (!known) throw io.usage(`no tenant ${tenant}`);
      if (sub === 'list') {
        const q = validateInput(suppressionsQuery, { address: values.address, scope: values.scope, reason: values.reason,
          since: values.since, until: values.until, limit: 500 });
        const items: SuppressionItem[] = [];
        let cursor: string | undefined;
        do {
          const page = await listSuppressionPage(db, tenant, { ...q, cursor });
          items.push(...page.items);
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        io.out(values.json ? JSON.stringify({ items }) + '\n' : items.length ? items.map(line).join('\n') + '\n' : 'no suppressions\n');
      } else if (sub === 'add') {
        const input = validateInput(addSuppressionSchema, { address: values.address, scope: values.scope, reason: values.reason, note: values.note });
        const out = await addManualSuppression(db, tenant, input, ACTOR);
        io.out(values.json ? JSON.stringify({ created: out.created, ...out.item }) + '\n'
          : `${out.created ? 'added' : 'already suppressed'}: ${line(out.item)}\n`);
      } else {
        const input = validateInput(removeSuppressionSchema, { address: values.address, scope: values.scope, reason: values.reason });
        const out = await unsuppressAddress(db, tenant, input, ACTOR);
        io.out(values.json ? JSON.stringify(out) + '\n' : [
          ...out.removed.map((i) => `removed: ${line(i)}`),
          ...out.kept.map((i) => `kept:    ${line(i)}`),
          ...(out.contact ? [`contact ${out.contact.id}: ${out.contact.previousStatus} → ${out.contact.status} (subscriptions unchanged)`] : []),
        ].join('\n') + '\n');
      }
    });
  } catch (err) {
    throw asCliError(err);
  }
}
