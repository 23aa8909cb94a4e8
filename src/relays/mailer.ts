// Several relays behind one Mailer (SMTP_URLS): a message goes to a relay picked by weight among the
// healthy ones, at that relay's rate (relays/limits.ts RelayRate, shared across processes) and
// within its destination domain's concurrency (per process). A failure of the session with a relay
// (connect, greeting, TLS, AUTH: the relay took nothing) sends the same message at once to another
// relay; RELAY_PAUSE_AFTER_FAILURES such failures in a row pause the relay for every process
// (relay_health). A recipient's 421 or 4.7.x reply puts its domain in back-off for every process
// (domain_throttles): mail to it is deferred, without an attempt counted, until the back-off ends.
// The shared state is read once per RELAY_STATE_REFRESH_MS per process, never per message; it is
// written only when something changes (a failure, a recovery, a throttle).
import type { SendMailOptions } from 'nodemailer';
import type { Queryable } from '../platform/db.js';
import type { Logger } from '../platform/log.js';
import { createSmtpMailer, keptResponse, type Mailer, type RelayTls, type SendOutcome } from '../platform/smtp.js';
import { RelayRate, Slots } from './limits.js';
import { isDomainThrottle, pickRelay, recipientDomain, type RelaySpec } from './policy.js';
import { loadSharedState, recordRelayFailure, recordRelaySuccess, reserveRelaySends, throttleDomain } from './store.js';

export interface RelayMailerConfig {
  relays: RelaySpec[];
  tls: RelayTls;
  /** Session failures in a row that pause a relay (RELAY_PAUSE_AFTER_FAILURES). */
  pauseAfterFailures: number;
  /** How long a paused relay is skipped, in seconds (RELAY_COOLDOWN_SECONDS). */
  cooldownSeconds: number;
  /** How often each process re-reads paused relays and throttled domains, in milliseconds (RELAY_STATE_REFRESH_MS). */
  refreshMs: number;
  /** Messages in flight per destination domain per process (DOMAIN_CONCURRENCY), and overrides by domain. */
  domainConcurrency: number;
  domainLimits: ReadonlyMap<string, number>;
  /** A domain's first back-off and the longest, in seconds (DOMAIN_BACKOFF_BASE_SECONDS, DOMAIN_BACKOFF_MAX_SECONDS). */
  backoffBaseSeconds: number;
  backoffMaxSeconds: number;
}

export interface RelayMailerDeps {
  /** The pool (system-wide tables, one statement each). */
  db: Queryable;
  log: Logger;
  /** Makes one relay's transport (default: createSmtpMailer with the relay's URL, connections and the TLS settings). */
  connect?: (spec: RelaySpec, tls: RelayTls) => Mailer;
}

interface Relay { spec: RelaySpec; mailer: Mailer; rate: RelayRate | null }

/**
 * What this process knows of the shared state, with local deadlines (Date.now() ms). What it wrote
 * itself while a refresh was under way is kept over that refresh's (older) rows.
 */
class SharedView {
  private relays = new Map<string, { failures: number; pausedUntil: number; at: number }>();
  private domains = new Map<string, { until: number; at: number }>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(private readonly db: Queryable, private readonly refreshMs: number, private readonly log: Logger) {}

  /** The first call waits for the first load; later ones start a refresh in the background when the view is older than refreshMs. */
  async fresh(): Promise<void> {
    if (this.loadedAt === 0) { await (this.loading ??= this.load()); return; }
    if (!this.loading && Date.now() - this.loadedAt >= this.refreshMs) void (this.loading = this.load());
  }

  private async load(): Promise<void> {
    const t0 = Date.now();
    try {
      const s = await loadSharedState(this.db);
      const relays = new Map(s.relays.map((r) => [r.relay, { failures: r.failures, pausedUntil: t0 + r.pausedForMs, at: t0 }]));
      const domains = new Map(s.domains.map((d) => [d.domain, { until: t0 + d.forMs, at: t0 }]));
      for (const [k, v] of this.relays) if (v.at >= t0) relays.set(k, v);
      for (const [k, v] of this.domains) if (v.at >= t0) domains.set(k, v);
      this.relays = relays;
      this.domains = domains;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'relays: could not read the shared relay and domain state; using the last one');
    } finally {
      this.loadedAt = Date.now();
      this.loading = null;
    }
  }

  pausedForMs(relay: string): number { return Math.max(0, (this.relays.get(relay)?.pausedUntil ?? 0) - Date.now()); }
  failures(relay: string): number { return this.relays.get(relay)?.failures ?? 0; }
  setRelay(relay: string, failures: number, pausedForMs: number): void {
    const now = Date.now();
    this.relays.set(relay, { failures, pausedUntil: now + pausedForMs, at: now });
  }
  domainForMs(domain: string): number { return Math.max(0, (this.domains.get(domain)?.until ?? 0) - Date.now()); }
  setDomain(domain: string, forMs: number): void { const now = Date.now(); this.domains.set(domain, { until: now + forMs, at: now }); }
}

/** A Mailer over several relays (see the file's head). `mode` is 'smtp'. */
export function createRelayMailer(config: RelayMailerConfig, deps: RelayMailerDeps): Mailer {
  const connect = deps.connect ?? ((spec, tls) => createSmtpMailer(spec.url, spec.connections, tls, { maxRequeues: 0 }));
  const relays: Relay[] = config.relays.map((spec) => ({
    spec, mailer: connect(spec, config.tls),
    rate: spec.rate > 0 ? new RelayRate(spec.rate, (wanted) => reserveRelaySends(deps.db, spec.name, wanted, spec.rate)) : null,
  }));
  const view = new SharedView(deps.db, config.refreshMs, deps.log);
  const slots = new Slots((d) => config.domainLimits.get(d) ?? config.domainConcurrency);
  const connections = new Map(config.relays.map((r) => [r.name, r.connections]));
  const core = new RelaySend(config, deps, relays, view, new Slots((name) => connections.get(name) ?? 1));

  return {
    mode: 'smtp',
    async send(msg: SendMailOptions): Promise<SendOutcome> {
      await view.fresh();
      const domain = recipientDomain(msg.envelope && typeof msg.envelope === 'object' && 'to' in msg.envelope ? msg.envelope.to : msg.to);
      if (!domain) return core.viaRelays(msg, null);
      if (view.domainForMs(domain) > 0) return core.held(domain);
      await slots.acquire(domain);
      try {
        // It may have gone into back-off while this message waited for its slot.
        return view.domainForMs(domain) > 0 ? core.held(domain) : await core.viaRelays(msg, domain);
      } finally {
        slots.release(domain);
      }
    },
    close: () => { for (const r of relays) r.mailer.close(); },
    abort: () => { for (const r of relays) r.mailer.abort?.(); },
  };
}

/** The relay part of a send: pick, rate, send, fail over; and the outcomes of back-off. */
class RelaySend {
  constructor(private readonly config: RelayMailerConfig, private readonly deps: RelayMailerDeps,
    private readonly relays: Relay[], private readonly view: SharedView, private readonly wire: Slots) {}

  /** Tries healthy relays by weight until one takes the message or judges its recipient. */
  async viaRelays(msg: SendMailOptions, domain: string | null): Promise<SendOutcome> {
    const tried = new Set<string>();
    let last: SendOutcome | null = null;
    for (;;) {
      const r = pickRelay(this.relays.map((x) => x.spec), (n) => tried.has(n) || this.view.pausedForMs(n) > 0, Math.random());
      if (!r) return last ?? this.allPaused();
      tried.add(r.name);
      const relay = this.relays.find((x) => x.spec.name === r.name) as Relay;
      const o = await this.onWire(relay, msg);
      if (o.kind === 'temporary' && o.session) { last = o; await this.failed(relay, o.response); continue; }
      if (this.view.failures(r.name) > 0 || this.view.pausedForMs(r.name) > 0) await this.recovered(relay);
      if (o.kind === 'temporary' && domain && isDomainThrottle(o.response)) return this.throttled(domain, o);
      return o;
    }
  }

  /**
   * One send through the relay: a free connection of this process first, then a rate token, so a
   * granted send goes on the wire at once (not queued in the pool past its second).
   */
  private async onWire(relay: Relay, msg: SendMailOptions): Promise<SendOutcome> {
    await this.wire.acquire(relay.spec.name);
    try {
      try { await relay.rate?.take(); } catch (err) {
        return { kind: 'temporary', response: keptResponse(`relay rate could not be reserved: ${(err as Error).message}`) };
      }
      return await relay.mailer.send(msg);
    } finally {
      this.wire.release(relay.spec.name);
    }
  }

  /** Mail to a domain in back-off: deferred until it ends, the relay never asked (no attempt counted). */
  held(domain: string): SendOutcome {
    const seconds = this.view.domainForMs(domain) / 1000;
    return { kind: 'temporary', response: `${domain} is in back-off after a 421 or 4.7.x reply; not sent`, backoff: { seconds, reason: 'domain_backoff', attempted: false } };
  }

  /** Every relay is paused: deferred until the first one is tried again, no attempt counted. */
  private allPaused(): SendOutcome {
    const ms = Math.min(...this.relays.map((r) => this.view.pausedForMs(r.spec.name)));
    return { kind: 'temporary', response: 'every relay is paused after failing; not sent', backoff: { seconds: Math.max(1, ms / 1000), reason: 'relays_paused', attempted: false } };
  }

  private async failed(relay: Relay, response: string): Promise<void> {
    const { pauseAfterFailures, cooldownSeconds } = this.config;
    try {
      const h = await recordRelayFailure(this.deps.db, relay.spec.name, response, pauseAfterFailures, cooldownSeconds);
      this.view.setRelay(relay.spec.name, h.failures, h.pausedForMs);
      if (h.pausedForMs > 0 && h.failures === pauseAfterFailures) this.deps.log.warn({ relay: relay.spec.name, failures: h.failures, cooldownSeconds, err: response }, 'relay paused after failing');
    } catch (err) {
      this.deps.log.warn({ relay: relay.spec.name, err: (err as Error).message }, 'relays: could not record a relay failure');
    }
  }

  private async recovered(relay: Relay): Promise<void> {
    this.view.setRelay(relay.spec.name, 0, 0);
    await recordRelaySuccess(this.deps.db, relay.spec.name)
      .then(() => this.deps.log.info({ relay: relay.spec.name }, 'relay works again'))
      .catch((err: Error) => this.deps.log.warn({ relay: relay.spec.name, err: err.message }, 'relays: could not record a relay recovery'));
  }

  /** A recipient's 421 or 4.7.x: the domain goes into back-off for every process; this message waits until it ends (its attempt counted). */
  private async throttled(domain: string, o: Extract<SendOutcome, { kind: 'temporary' }>): Promise<SendOutcome> {
    try {
      const t = await throttleDomain(this.deps.db, domain, o.response, this.config.backoffBaseSeconds, this.config.backoffMaxSeconds);
      this.view.setDomain(domain, t.forMs);
      this.deps.log.warn({ domain, level: t.level, seconds: Math.round(t.forMs / 1000), reply: o.response }, 'destination domain throttles: in back-off');
      return { ...o, backoff: { seconds: t.forMs / 1000, reason: 'domain_throttled', attempted: true } };
    } catch (err) {
      this.deps.log.warn({ domain, err: (err as Error).message }, 'relays: could not record a domain back-off');
      return o;
    }
  }
}
