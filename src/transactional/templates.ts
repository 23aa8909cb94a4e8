// Transactional templates. Built-in ones on disk: templates/invoice.mjml and templates/notices/<name>.mjml,
// each with an optional <name>.txt text part beside it; convention: the subject is the Handlebars
// content of the template's <mj-title>. Stored ones: a tenant's saved template (the campaigns
// module's versioned `templates`), pinned to the version current when the notice was queued.
// Each is compiled (MJML → HTML, Handlebars) once per process; per message only Handlebars runs.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';
import type { Queryable } from '../platform/db.js';
import type { CompiledTemplate, TemplateSource } from '../mail/render.js';
import { TemplateCache } from '../mail/template-cache.js';
import { getTemplate } from '../campaigns/templates-store.js';

export const TEMPLATES_DIR = path.join(projectRoot, 'templates');
export const NOTICES_DIR = path.join(TEMPLATES_DIR, 'notices');
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const TITLE = /<mj-title>([\s\S]*?)<\/mj-title>/;

/** Reads an MJML file (and its .txt text part when present); the subject comes from <mj-title>. */
export function readTemplateSource(mjmlPath: string): TemplateSource {
  const mjml = readFileSync(mjmlPath, 'utf8');
  const title = TITLE.exec(mjml);
  if (!title) throw new Error(`${path.relative(projectRoot, mjmlPath)} has no <mj-title> (the subject)`);
  const textPath = mjmlPath.replace(/\.mjml$/, '.txt');
  const text = existsSync(textPath) ? readFileSync(textPath, 'utf8') : null;
  return { mjml, subject: title[1].trim(), text };
}

let noticeNames: ReadonlySet<string> | null = null;

/** Names of the built-in notice templates (files templates/notices/<name>.mjml), read once. */
export function noticeTemplateNames(): ReadonlySet<string> {
  noticeNames ??= new Set(readdirSync(NOTICES_DIR).filter((f) => f.endsWith('.mjml')).map((f) => f.slice(0, -5)).filter((n) => NAME.test(n)));
  return noticeNames;
}

const sources = new Map<string, TemplateSource>();
const compiled = new TemplateCache(Infinity);

function pathOf(name: string): string {
  if (name === 'invoice') return path.join(TEMPLATES_DIR, 'invoice.mjml');
  const notice = /^notice:(.+)$/.exec(name);
  if (notice && noticeTemplateNames().has(notice[1])) return path.join(NOTICES_DIR, `${notice[1]}.mjml`);
  throw new Error(`unknown transactional template ${name}`);
}

/** 'invoice' or 'notice:<name>': its source, read once. */
export function templateSource(name: string): TemplateSource {
  let src = sources.get(name);
  if (!src) { src = readTemplateSource(pathOf(name)); sources.set(name, src); }
  return src;
}

/** Compiled once per process; a failed compilation is not cached (the next message tries again). */
export function compiledTemplate(name: string): Promise<CompiledTemplate> {
  return compiled.get(name, () => templateSource(name));
}

// ---- stored templates (ledger template 'notice:stored:<id>', template_version pinned) -------------

export const STORED_PREFIX = 'notice:stored:';
const MAX_STORED_COMPILED = 200;
const storedCompiled = new TemplateCache(MAX_STORED_COMPILED);

/** A stored template's current version (null when absent, or another tenant's: RLS). */
export async function storedTemplate(c: Queryable, id: string): Promise<{ source: TemplateSource; version: number } | null> {
  const t = await getTemplate(c, id);
  return t ? { source: { mjml: t.mjml, subject: t.subject, text: t.text }, version: t.version } : null;
}

/** Versions are immutable, so (id, version) compiles once; the least recently used goes first. */
export function compiledStored(c: Queryable, id: string, version: number): Promise<CompiledTemplate> {
  return storedCompiled.get(`${id}:${version}`, async () => {
    const t = await getTemplate(c, id, version);
    if (!t) throw new Error(`stored template ${id} v${version} is gone`);
    return { mjml: t.mjml, subject: t.subject, text: t.text };
  });
}
