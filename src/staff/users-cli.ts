// `postgate user create --tenant ID --email E --role admin|marketing|viewer [--password P] [--json]`:
// the CLI face of users.ts. Without --password it prints a one-time link to set one (valid
// STAFF_PASSWORD_LINK_HOURS); a password given here lands in the shell's history, so the link is the
// better habit. A domain error is one line with its code and the option at fault.
import { parseArgs } from 'node:util';
import { DomainError } from '../domain-error.js';
import type { Db } from '../platform/db.js';
import { isUuid } from '../policy/ids.js';
import { tenantExists } from '../tenants/store.js';
import { STAFF_ROLES, type StaffRole } from './roles.js';
import { setPasswordUrl } from './staff-api.js';
import { createStaffUser } from './users.js';

export interface UserCliIo {
  config: { PUBLIC_URL: string; STAFF_PASSWORD_LINK_HOURS: number };
  withDb<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  usage(message: string): Error;
  out(text: string): void;
}

/** Runs `postgate user create` with its options (argv after the subcommand). */
export async function userCommand(sub: 'create', argv: string[], io: UserCliIo): Promise<void> {
  const { values } = parseArgs({ args: argv, options: {
    tenant: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' }, json: { type: 'boolean' } } });
  const tenant = values.tenant?.trim() ?? '';
  if (!isUuid(tenant)) throw io.usage('--tenant is required: the tenant\'s id');
  if (!values.email?.trim()) throw io.usage('--email is required');
  const role = values.role?.trim() as StaffRole;
  if (!STAFF_ROLES.includes(role)) throw io.usage(`--role is required: one of ${STAFF_ROLES.join(', ')}`);
  const made = await io.withDb(async (db) => {
    if (!(await db.withTenant(tenant, (c) => tenantExists(c, tenant)))) throw io.usage(`no tenant ${tenant}`);
    return createStaffUser(db, { tenantId: tenant, email: values.email as string, role, password: values.password }, io.config.STAFF_PASSWORD_LINK_HOURS)
      .catch((err: unknown) => { throw asCliError(err); });
  });
  const link = made.setPasswordToken ? setPasswordUrl(io.config.PUBLIC_URL, made.setPasswordToken) : null;
  if (values.json) { io.out(JSON.stringify({ id: made.user.id, email: made.user.email, role: made.user.role, setPasswordUrl: link }) + '\n'); return; }
  io.out(`staff user ${made.user.id} ${made.user.email} (${made.user.role})\n`
    + (link ? `set a password within ${io.config.STAFF_PASSWORD_LINK_HOURS} hours (one-time link): ${link}\n`
      + '(the link starts with PUBLIC_URL: run this command with the service\'s settings, or change the start of the link to the console\'s address)\n'
      : `sign in at ${io.config.PUBLIC_URL.replace(/\/+$/, '')}/console/\n`));
}

function asCliError(err: unknown): unknown {
  if (!(err instanceof DomainError)) return err;
  const message = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  return new Error(`${err.code}${err.field ? ` (--${err.field})` : ''}: ${message}`);
}
