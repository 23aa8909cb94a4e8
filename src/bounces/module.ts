// The bounces module: wires its routes, renderers and workers into the app.
import type { AppDeps, Module } from '../deps.js';

export function bouncesModule(_deps: AppDeps): Module {
  return { name: 'bounces' };
}
