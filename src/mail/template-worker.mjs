// Worker entry of the template pool (src/mail/template-pool.ts). Plain JavaScript for the same reason
// as src/bounces/classify-worker.mjs: a worker thread does not inherit its parent's TypeScript loader,
// so it loads render.ts itself with tsx's scoped tsImport. One task = one template: op 'compile'
// (validate + MJML + Handlebars precompile → issues and spec) or 'preview' (that, then render it once
// with the given data). The worker says 'start' on the task's port first, so that the pool's time
// budget counts the work only, not the wait in the queue.
import { tsImport } from 'tsx/esm/api';

const { compileTemplateSpec, templateFromSpec, renderMessage, loadMjml } = await tsImport('./render.ts', import.meta.url);
// render.ts loads MJML lazily; a pool thread loads it at boot (warm), outside any template's time budget.
await loadMjml();

export default async function run({ op, src, data, authored, port }) {
  port?.postMessage('start');
  port?.close();
  const { issues, spec } = await compileTemplateSpec(src, { authored });
  if (op !== 'preview' || !spec) return { issues, spec };
  try {
    return { issues, spec: null, rendered: renderMessage(templateFromSpec(spec), data ?? {}) };
  } catch (err) {
    return { issues, spec: null, renderError: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}
