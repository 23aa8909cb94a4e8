// The tenant's own strings (issue 20), scope admin:
//   GET /api/tenant/strings   the overrides, and every message id with its English text and arguments
//                             (what a translator may override)
//   PUT /api/tenant/strings   replace the overrides: { [language]: { [messageId]: ICU text } }
// Validation is src/policy/string-overrides.ts (language, id in the English catalogue, ICU syntax,
// only the English text's arguments, at most MAX_OVERRIDES of MAX_OVERRIDE_CHARS); a problem is a
// 422 naming the field ("de.page.unsubscribe.title"). Pages and built-in mail read the overrides
// through getStringOverrides (store.ts) into their translator.
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { Api } from '../platform/http.js';
import { catalogues } from '../i18n/catalogues.js';
import { LANGUAGES } from '../i18n/translate.js';
import { DomainError } from '../domain-error.js';
import { checkOverrides, MAX_OVERRIDE_CHARS, MAX_OVERRIDES, messageArguments, type OverrideProblem } from '../policy/string-overrides.js';
import { getStringOverrides, setStringOverrides } from './store.js';

type Overrides = Record<string, Record<string, string>>;

const overridesSchema = z.record(z.string().max(35), z.record(z.string().max(200), z.string().max(MAX_OVERRIDE_CHARS)))
  .describe(`Per language (${LANGUAGES.join(', ')}), message id → ICU MessageFormat text; at most ${MAX_OVERRIDES} in all`);

const SLICE_MS = 10;
const MAX_PROBLEMS = 20;
const fieldOf = (p: OverrideProblem): string => p.path.join('.') || '$';

/**
 * Checks every override (src/policy/string-overrides.ts), giving the event loop a turn every
 * SLICE_MS; throws 422 invalid naming the first problem's field ("de.page.unsubscribe.title"),
 * with up to MAX_PROBLEMS in `errors`.
 */
async function assertValidOverrides(overrides: Overrides): Promise<void> {
  const problems: OverrideProblem[] = [];
  let slice = performance.now();
  for (const p of checkOverrides(overrides, catalogues().en)) {
    if (p) problems.push(p);
    if (problems.length >= MAX_PROBLEMS) break;
    if (performance.now() - slice > SLICE_MS) { await new Promise((r) => setImmediate(r)); slice = performance.now(); }
  }
  if (problems.length === 0) return;
  const errors = problems.map((p) => ({ field: fieldOf(p), message: p.message }));
  throw new DomainError('invalid', `${errors[0].field}: ${errors[0].message}`, errors[0].field, { errors });
}

const messageView = z.object({
  id: z.string(), text: z.string().describe('the English text (the reference)'),
  arguments: z.array(z.string()).describe('the arguments the text uses; an override may use these and no others'),
});
const overridesView = z.object({ overrides: overridesSchema });
const stringsView = overridesView.extend({ messages: z.array(messageView).describe('every message a tenant may override, by id') });

let messageList: z.infer<typeof messageView>[] | null = null;

/** Every English message with its arguments, sorted by id (the catalogue is read once per process). */
function messages(): z.infer<typeof messageView>[] {
  messageList ??= Object.entries(catalogues().en).sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([id, text]) => ({ id, text, arguments: messageArguments(text) }));
  return messageList;
}

/** Drops languages without overrides, so that {} clears everything. */
const compact = (o: Overrides): Overrides => Object.fromEntries(Object.entries(o).filter(([, m]) => Object.keys(m).length > 0));

/** Registers GET and PUT /api/tenant/strings. */
export function stringRoutes(api: Api, deps: AppDeps): void {
  api.route({ method: 'get', path: '/api/tenant/strings', scope: 'admin', response: stringsView,
    summary: "The tenant's own strings, and every message id with its English text (what may be overridden)" },
  async ({ tenantId }) => ({ body: { overrides: await deps.db.withTenant(tenantId, (c) => getStringOverrides(c, tenantId)), messages: messages() } }));
  api.route({ method: 'put', path: '/api/tenant/strings', scope: 'admin', body: overridesSchema, response: overridesView,
    maxBodyBytes: 2 * 1024 * 1024,
    summary: "Replace the tenant's own strings (422 naming the field, e.g. de.page.unsubscribe.title, for an unknown id, a language without a catalogue, a syntax error or an argument English lacks)" },
  async ({ tenantId, body }) => {
    await assertValidOverrides(body);
    const overrides = compact(body);
    await deps.db.withTenant(tenantId, (c) => setStringOverrides(c, tenantId, overrides));
    return { body: { overrides } };
  });
}
