// The consent module: wires its routes, renderers and workers into the app.
import type { AppDeps, Module } from '../deps.js';

export function consentModule(_deps: AppDeps): Module {
  return { name: 'consent' };
}
