// Prometheus metrics (prom-client), one registry per Postgate instance.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SendCounters } from '../mail/sender.js';

export interface Metrics {
  registry: Registry;
  messages: Counter<'kind' | 'outcome'>;
  gateRefusals: Counter<'reason'>;
  reclaimed: Counter;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  sendCounters: SendCounters;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'postgate_' });
  const messages = new Counter({ name: 'postgate_messages_total', help: 'Messages by kind and outcome', labelNames: ['kind', 'outcome'] as const, registers: [registry] });
  const gateRefusals = new Counter({ name: 'postgate_gate_refusals_total', help: 'Messages the compliance gate refused, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const reclaimed = new Counter({ name: 'postgate_reclaimed_total', help: 'Messages reclaimed from a dead worker (possible duplicates)', registers: [registry] });
  const httpDuration = new Histogram({ name: 'postgate_http_request_seconds', help: 'HTTP request duration', labelNames: ['method', 'route', 'status'] as const, registers: [registry], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
  const sendCounters: SendCounters = {
    sent: (kind) => messages.inc({ kind, outcome: 'sent' }),
    failed: (kind) => messages.inc({ kind, outcome: 'failed' }),
    deferred: (kind) => messages.inc({ kind, outcome: 'deferred' }),
    suppressed: (reason) => gateRefusals.inc({ reason }),
    reclaimed: () => reclaimed.inc(),
  };
  return { registry, messages, gateRefusals, reclaimed, httpDuration, sendCounters };
}
