// Template compilation off the event loop (issue 14): MJML and Handlebars compilation of a template
// (untrusted: tenants write them) run in a small piscina pool of worker threads
// (src/mail/template-worker.mjs), so a hostile template can never stall the API, the dispatcher or
// lease renewals. Each compilation gets a time budget, counted from the moment a worker starts on it:
// over budget, the task is aborted (piscina terminates that worker and starts a fresh one) and the
// template is refused with a TemplateError ("took too long to compile"). The main thread only turns
// the returned spec into functions (templateFromSpec: evaluating generated code, milliseconds); per
// recipient only the Handlebars runtime runs, in-process, under render.ts's per-message work budget
// (TEMPLATE_LIMITS.renderIterations, renderTags, renderedChars). A preview renders in the worker under
// the same budget: over it, preview rejects with the RenderBudgetError's message ("exceeds the render
// budget"), not a compile timeout. The pool starts lazily on first use.
import { Piscina } from 'piscina';
import { runWithBudget } from '../platform/worker-budget.js';
import {
  templateFromSpec, TemplateBusyError, TemplateError, type CompiledTemplate, type RenderedMessage, type TemplateIssue, type TemplateSource, type TemplateSpec,
} from './render.js';

export interface TemplatePoolOptions {
  /** Worker threads (1 is plenty: a template compiles once per version and process). */
  threads: number;
  /** Per-template budget in ms, from the moment a worker starts on it. */
  budgetMs: number;
  /** Unwarmed pools: how long a thread lives idle after its last task (ms); default IDLE_EXIT_MS. */
  idleExitMs?: number;
}

/** Defaults of the shared pool: one thread, 5 s per template. */
export const TEMPLATE_POOL_DEFAULTS: Readonly<TemplatePoolOptions> = Object.freeze({ threads: 1, budgetMs: 5_000 });

/** Tasks so far by result, and the threads alive now. */
export interface TemplatePoolStats { completed: number; timeouts: number; failures: number; threads: number }

export interface TemplatePool {
  /** Every issue of the template as its author wrote it ([] when it compiles). Over budget or failing: one 'mjml' issue. */
  validate(src: TemplateSource): Promise<TemplateIssue[]>;
  /**
   * The compiled template (a prepared source: footer room over the limits), ready to render in-process.
   * Throws TemplateError for an invalid template, TemplateBusyError when compiling ran over the budget.
   */
  compile(src: TemplateSource): Promise<CompiledTemplate>;
  /**
   * Compiles and renders once with `data` (JSON-like, cloned to the worker), all in the worker.
   * Throws TemplateError for an invalid template, Error (message: why) when rendering failed.
   */
  preview(src: TemplateSource, data: object): Promise<RenderedMessage>;
  /** Starts the threads now (they load MJML) and keeps them from then on, so that a template never waits for a boot. */
  warm(): void;
  stats(): TemplatePoolStats;
  close(): Promise<void>;
}

interface WorkerResult { issues: TemplateIssue[]; spec: TemplateSpec | null; rendered?: RenderedMessage; renderError?: string; timedOut?: boolean }

const WORKER = new URL('./template-worker.mjs', import.meta.url).href;
/** How long an unwarmed pool's idle thread lives after its last task (ms). */
const IDLE_EXIT_MS = 10_000;

/** A pool of its own (tests; the process shares templatePool()). Threads start at the first task. */
export function createTemplatePool(o: TemplatePoolOptions = TEMPLATE_POOL_DEFAULTS): TemplatePool {
  const threads = Math.max(1, o.threads);
  let pool: Piscina | null = null;
  const stats: Omit<TemplatePoolStats, 'threads'> = { completed: 0, timeouts: 0, failures: 0 };
  let closed = false;
  let keepWarm = false;

  const start = (): Piscina => {
    pool ??= new Piscina({
      // Warmed (warm(): a web process), the threads stay (a boot loads MJML: seconds on a busy machine).
      // Otherwise (a worker compiles each template version once) a thread exits IDLE_EXIT_MS after its
      // last task: it holds ~80 MB of RSS (MJML, measured). Idle, threads do not keep the process alive.
      filename: WORKER, minThreads: keepWarm ? threads : 0, maxThreads: threads, idleTimeout: keepWarm ? 60_000 : o.idleExitMs ?? IDLE_EXIT_MS, concurrentTasksPerWorker: 1,
      // A worker holds one template (≤ 256 KiB of MJML) at a time; this bounds what a pathological one may allocate.
      resourceLimits: { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 64 },
    });
    return pool;
  };

  const refused = (message: string): WorkerResult => ({ issues: [{ part: 'mjml', line: null, message }], spec: null });

  async function run(op: 'compile' | 'preview', src: TemplateSource, authored: boolean, data?: object): Promise<WorkerResult> {
    if (closed) throw new Error('template pool is closed');
    const task = { op, src: { mjml: src.mjml, subject: src.subject, text: src.text ?? null }, authored, data };
    const out = await runWithBudget<WorkerResult>(start(), task, o.budgetMs);
    if (out.kind === 'done') { stats.completed++; return out.result; }
    if (out.kind === 'timeout') {
      stats.timeouts++;
      const what = op === 'preview' ? 'compile and render' : 'compile';
      return { ...refused(`the template took too long to ${what} (over ${o.budgetMs / 1000} s): make it smaller or simpler`), timedOut: true };
    }
    if (closed) throw out.error;
    stats.failures++;
    return refused(`the template could not be compiled (${out.error.message.split('\n')[0]}): make it smaller or simpler`);
  }

  return {
    async validate(src) {
      return (await run('compile', src, true)).issues;
    },
    async compile(src) {
      const r = await run('compile', src, false);
      if (r.timedOut) throw new TemplateBusyError(r.issues[0].message);
      if (!r.spec) throw new TemplateError(r.issues);
      return templateFromSpec(r.spec);
    },
    async preview(src, data) {
      const r = await run('preview', src, false, data);
      if (r.rendered) return r.rendered;
      if (r.renderError !== undefined) throw new Error(r.renderError);
      throw new TemplateError(r.issues);
    },
    warm() {
      if (closed || keepWarm) return;
      keepWarm = true;
      const cold = pool; // started unwarmed (a template came first): replaced, its task in flight finishes
      pool = null;
      start();
      void cold?.close().catch(() => undefined);
    },
    stats: () => ({ ...stats, threads: pool?.threads.length ?? 0 }),
    async close() {
      if (closed) return;
      closed = true;
      await pool?.destroy();
    },
  };
}

let shared: TemplatePool | null = null;

/** The process's pool (TEMPLATE_POOL_DEFAULTS), created at first use; its idle threads do not keep the process alive. */
export function templatePool(): TemplatePool {
  shared ??= createTemplatePool();
  return shared;
}

/** Starts the shared pool's threads now and keeps them (the composition root, at start-up, for the web role). */
export function warmTemplatePool(): void {
  templatePool().warm();
}

/** Stops the shared pool's threads (shutdown); a later use starts a new pool. */
export async function closeTemplatePool(): Promise<void> {
  const p = shared;
  shared = null;
  await p?.close();
}

/** templatePool().validate: every issue of the template, computed off the event loop. */
export function validateTemplate(src: TemplateSource): Promise<TemplateIssue[]> {
  return templatePool().validate(src);
}

/** templatePool().compile: the compiled template, compiled off the event loop. Throws TemplateError or TemplateBusyError. */
export function compileTemplate(src: TemplateSource): Promise<CompiledTemplate> {
  return templatePool().compile(src);
}

/** templatePool().preview: compiled and rendered once with `data`, off the event loop. */
export function previewTemplate(src: TemplateSource, data: object): Promise<RenderedMessage> {
  return templatePool().preview(src, data);
}
