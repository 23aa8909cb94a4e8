#!/usr/bin/env node
// Launcher: registers tsx's loader in this process and runs the TypeScript CLI (no build step,
// signals reach the service directly).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
