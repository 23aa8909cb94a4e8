// What the composition root hands to each domain module, and what a module may give back.
import type { Router } from 'express';
import type { Config } from './config.js';
import type { Db } from './platform/db.js';
import type { DnsLookup } from './platform/dns.js';
import type { Api } from './platform/http.js';
import type { Logger } from './platform/log.js';
import type { Metrics } from './platform/metrics.js';
import type { Boss } from './platform/queue.js';
import type { Mailer } from './platform/smtp.js';
import type { TokenKeys } from './policy/tokens.js';
import type { RendererRegistry } from './mail/renderers.js';
import type { Delivery, PermanentFailureHandler } from './mail/delivery.js';

export interface Roles { web: boolean; worker: boolean; inbound: boolean }

export interface AppDeps {
  config: Config;
  log: Logger;
  db: Db;
  boss: Boss;
  mailer: Mailer;
  tokens: TokenKeys;
  renderers: RendererRegistry;
  /** The one delivery core (gate → render → compose → DKIM → SMTP → outcome) of every send path. */
  delivery: Delivery;
  metrics: Metrics;
  roles: Roles;
  /** DNS look-ups (sending-domain verification), on the servers of DNS_SERVERS. */
  dns: DnsLookup;
}

export interface Module {
  name: string;
  /** JSON API routes (authenticated, validated, documented) and public HTML pages. */
  routes?(api: Api, pages: Router): void;
  /** Renderers for the templates this module owns. */
  renderers?(registry: RendererRegistry): void;
  /** pg-boss workers; called only in processes that run the worker role. */
  workers?(): Promise<void>;
  /** Long-running listeners (e.g. inbound SMTP); called only where roles allow. */
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** Bounce handling of a 5xx at send time (any send path), wired by the composition root into the delivery core. */
  onPermanentFailure?: PermanentFailureHandler;
}

export type ModuleFactory = (deps: AppDeps) => Module;
