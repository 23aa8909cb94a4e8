// The shapes of the /api answers the templates pages read (see src/campaigns/templates-api.ts and
// test-addresses-api.ts). Only what the pages show.

/** GET /api/templates item. */
export interface TemplateSummary { id: string; name: string; version: number; createdAt: string; updatedAt: string }

/** GET/POST/PUT /api/templates(/:id). */
export interface Template extends TemplateSummary {
  currentVersion: number; subject: string; mjml: string; text: string | null;
  usesUnsubscribeLink: boolean; usesPostalAddress: boolean;
}

/** The editable content of a template. */
export interface Draft { name: string; subject: string; mjml: string; text: string }

/** POST /api/templates/preview. */
export interface Preview { subject: string; html: string; text: string }

/** One render error of a template (error.issues of 422 invalid_template): the part, its line (1-based) and why. */
export interface TemplateIssue { part: 'mjml' | 'subject' | 'text'; line: number | null; message: string }

/** GET /api/template-variables. */
export interface TemplateVariable { name: string; type: string; description: string }
export interface TemplateHelper { name: string; usage: string; description: string; example: string; output: string }
export interface TemplateVariables { campaign: TemplateVariable[]; helpers: TemplateHelper[]; rules: string[] }

/** GET /api/test-addresses item. */
export interface TestAddress { id: string; address: string; state: 'pending' | 'verified'; verifiedAt: string | null; createdAt: string; verificationSentAt: string | null }

/** The issues a failed save or preview carried (422 invalid_template), else none. */
export function issuesOf(details: Readonly<Record<string, unknown>>): TemplateIssue[] {
  const raw = details.issues;
  if (!Array.isArray(raw)) return [];
  return raw.filter((i): i is TemplateIssue => typeof i === 'object' && i !== null && typeof (i as TemplateIssue).message === 'string')
    .map((i) => ({ part: i.part, line: typeof i.line === 'number' ? i.line : null, message: i.message }));
}
