// The one cache of compiled templates (MJML is slow: each template version compiles once per
// process, in the template pool's worker threads, never on the event loop). A small LRU of promises:
// concurrent callers of one key share one compilation, and a failed compilation (or load) is
// forgotten, so the next caller tries again.
import type { CompiledTemplate, TemplateSource } from './render.js';
import { compileTemplate } from './template-pool.js';

export class TemplateCache {
  private readonly entries = new Map<string, Promise<CompiledTemplate>>();

  /** `prepare` runs on each loaded source before it compiles (e.g. adding a compliant footer). */
  constructor(private readonly max = 32, private readonly prepare: (src: TemplateSource) => TemplateSource = (src) => src) {}

  /** The compiled template of `key`, loading and compiling it (off the event loop) on a miss. Rejects with TemplateError. */
  get(key: string, load: () => TemplateSource | Promise<TemplateSource>): Promise<CompiledTemplate> {
    const hit = this.entries.get(key);
    if (hit) { this.entries.delete(key); this.entries.set(key, hit); return hit; }
    const p = Promise.resolve().then(load).then((src) => compileTemplate(this.prepare(src)));
    p.catch(() => { if (this.entries.get(key) === p) this.entries.delete(key); });
    this.entries.set(key, p);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return p;
  }
}
