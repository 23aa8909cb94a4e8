// The one delivery core of every message, transactional or campaign: facts → gate → render → gate
// on what came out → compose (RFC 8058 headers, Feedback-ID, VERP envelope, Message-ID) → DKIM →
// SMTP → outcome. Like listmonk's single manager or Ghost's sending service, what differs per kind
// is data, not code: the caller (mail/sender.ts for single messages, campaigns/drain.ts for
// campaigns) claims its rows its own way and hands each one over as a `DeliveryJob` (its gate facts,
// its renderer, its envelope); the ledger (mail/ledger.ts) records what this module decides.
//
// Both paths thus run the same check before rendering (`gateBeforeRender`), treat a renderer or
// composer that throws the same way ('failed', reason 'render_error', at the first attempt: the same
// template and data would throw again, so it is never retried), map SMTP replies to the
// same outcomes, and hand a 5xx to the same permanent-failure handler, which is passed in at
// composition (src/main.ts), not subscribed to at run time.
import type { SendMailOptions } from 'nodemailer';
import type { Logger } from '../platform/log.js';
import type { Mailer, SendOutcome } from '../platform/smtp.js';
import { decide, type GateFacts, type GateReason } from '../policy/gate.js';
import { redactCardNumbers } from '../policy/cards.js';
import type { MessageKind } from '../policy/kinds.js';
import { signVerp, type TokenKeys } from '../policy/tokens.js';
import type { DkimKey, Tenant } from '../tenants/store.js';
import { composeMessage, messageIdHeader } from './compose.js';
import { TemplateBusyError, type RenderedMessage } from './render.js';
import { redactPart, type CapabilityLink } from './capabilities.js';
import { stageSync } from '../platform/stages.js';

export type PermanentOutcome = Extract<SendOutcome, { kind: 'permanent' }>;
/** Bounce handling of a 5xx at send time; called once the ledger says 'failed'. */
export type PermanentFailureHandler = (tenantId: string, messageId: string, outcome: PermanentOutcome) => Promise<void>;
export interface SendCounters { sent(kind: string): void; failed(kind: string): void; deferred(kind: string): void; suppressed(reason: string): void; reclaimed(): void }

export interface DeliveryConfig { bounceDomain: string; retryBaseSeconds: number; maxAttempts: number }
export interface DeliveryDeps {
  mailer: Mailer; tokens: TokenKeys; log: Logger; config: DeliveryConfig; counters?: SendCounters;
  onPermanentFailure?: PermanentFailureHandler;
}

/**
 * Why a message is not sent although the gate let it through: no renderer, or rendering/composing
 * threw ('render_error'). Compose is not told apart by reason: what it refuses (a line break or
 * control character in a rendered subject or a name) is the message's content, as permanent as a
 * template that throws; the event's `stage` says which step it was.
 */
export type DeliveryFailure = 'no_renderer' | 'render_error';
/** The step that threw. */
export type FailureStage = 'render' | 'compose';

/** The error of a render failure as the timeline keeps it: one line, no control characters, bounded. */
export function failureText(err: unknown): string {
  const raw = err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  // eslint-disable-next-line no-control-regex
  const line = raw.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

export function backoffSeconds(attempt: number, base: number): number {
  const raw = base * 2 ** Math.max(0, attempt - 1);
  return Math.min(raw, 6 * 3600) * (0.8 + Math.random() * 0.4);
}

export function verpAddress(tokens: TokenKeys, tenant: Pick<Tenant, 'id' | 'bounceDomain'>, messageId: string, defaultDomain: string): string {
  return `bounces+${signVerp(tokens, tenant.id, messageId)}@${tenant.bounceDomain ?? defaultDomain}`;
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

/** Reasons that depend on the rendered content: the check before rendering ignores exactly these. */
export const CONTENT_REASONS: ReadonlySet<GateReason> = new Set(['no_unsubscribe_link', 'no_list_unsubscribe_header', 'no_postal_address']);

/** The gate on what is known before rendering (content unknown); null when only content checks remain. */
export function gateBeforeRender(facts: GateFacts): GateReason | null {
  const d = decide(facts);
  return d.allow || CONTENT_REASONS.has(d.reason) ? null : d.reason;
}

/** What a renderer made of one message. */
export interface Content {
  rendered: RenderedMessage;
  listUnsubscribe?: { url: string; mailto?: string } | null;
  feedbackId?: string | null;
  listId?: string | null;
  hasUnsubscribeLink?: boolean;
  /**
   * The capability links (confirm, unsubscribe, preferences, verification) this renderer put in the
   * message: they go out on the wire only; the body Postgate keeps holds a placeholder for each
   * (see mail/capabilities.ts). A renderer that builds such a link and does not name it here leaks it to the tenant.
   */
  capabilityLinks?: CapabilityLink[];
}

/** Who sends one message to whom: everything compose needs beyond the content. */
export interface Envelope {
  messageId: string; kind: MessageKind;
  tenant: Pick<Tenant, 'id' | 'fromName' | 'fromEmail' | 'bounceDomain'>;
  replyTo: string; to: { name: string | null; address: string };
  fromDomain: string; dkim: DkimKey | null;
}

/** One message handed to the delivery core: its facts (given the content, null before rendering), renderer, envelope. */
export interface DeliveryJob<C extends Content = Content> {
  envelope: Envelope;
  facts(content: C | null): GateFacts;
}

export type Prepared =
  | { kind: 'refused'; reason: GateReason }
  | { kind: 'failed'; reason: DeliveryFailure; error: string; stage?: FailureStage }
  | { kind: 'mail'; mail: SendMailOptions; subject: string; messageIdHeader: string; rendered: RenderedMessage; capabilityLinks: CapabilityLink[] };

/** An SMTP outcome as the ledger records it. */
export interface Settled {
  status: 'sent' | 'deferred' | 'failed'; reason: string | null; response: string; retryInSeconds: number; detail: Record<string, unknown>;
}

/**
 * A throttle's deferral (src/relays: a domain in back-off, every relay paused): for as long as the
 * throttle says (plus up to 10 % jitter), under its reason. When the relay was never asked
 * (`attempted: false`) it never fails the message, and the ledger does not count the attempt.
 */
function settleBackoff(o: Extract<SendOutcome, { kind: 'temporary' }>, attempt: number, maxAttempts: number): Settled | null {
  const b = o.backoff;
  if (!b || (b.attempted && attempt >= maxAttempts)) return null;
  const delay = Math.max(0.05, b.seconds) * (1 + Math.random() * 0.1);
  return { status: 'deferred', reason: b.reason, response: o.response, retryInSeconds: delay,
    detail: { response: o.response, attempt, retryInSeconds: Math.round(delay), reason: b.reason } };
}

/** How envelopes are signed: the VERP key and the default bounce domain. */
export interface Signer { tokens: TokenKeys; bounceDomain: string }

/**
 * Gate, render (synchronously), gate again, compose. Never throws for a bad template or address.
 * `prechecked`: the caller already ran gateBeforeRender on this job (the campaign drain does, before
 * it waits for an SMTP slot).
 */
export function prepareMessage<C extends Content>(job: DeliveryJob<C>, render: () => C, signer: Signer, prechecked = false): Prepared {
  const early = prechecked ? null : gateBeforeRender(job.facts(null));
  if (early) return { kind: 'refused', reason: early };
  let content: C;
  try { content = render(); } catch (err) { return renderError(err, 'render'); }
  return finish(job, content, signer);
}

/**
 * The same as prepareMessage, for renderers that read the database (single messages); null: no renderer.
 * Rethrows TemplateBusyError (compiling ran over its budget): the caller retries the message later.
 */
export async function prepareMessageAsync<C extends Content>(job: DeliveryJob<C>, render: (() => Promise<C>) | null, signer: Signer): Promise<Prepared> {
  const early = gateBeforeRender(job.facts(null));
  if (early) return { kind: 'refused', reason: early };
  if (!render) return { kind: 'failed', reason: 'no_renderer', error: 'no renderer for this template' };
  let content: C;
  try {
    content = await render();
  } catch (err) {
    if (err instanceof TemplateBusyError) throw err; // the machine's, not the message's: the sender retries it
    return renderError(err, 'render');
  }
  return finish(job, content, signer);
}

function renderError(err: unknown, stage: FailureStage): Prepared {
  return { kind: 'failed', reason: 'render_error', error: failureText(err), stage };
}

function finish<C extends Content>(job: DeliveryJob<C>, content: C, signer: Signer): Prepared {
  const d = decide(job.facts(content));
  if (!d.allow) return { kind: 'refused', reason: d.reason };
  const e = job.envelope;
  try {
    const mail = stageSync('compose', () => composeMessage({
      messageId: e.messageId, kind: e.kind,
      from: { name: e.tenant.fromName, address: e.tenant.fromEmail },
      replyTo: e.replyTo, to: e.to,
      rendered: content.rendered, messageIdDomain: e.fromDomain,
      envelopeFrom: verpAddress(signer.tokens, e.tenant, e.messageId, signer.bounceDomain),
      listUnsubscribe: content.listUnsubscribe ?? null, feedbackId: content.feedbackId ?? null, listId: content.listId ?? null,
      dkim: e.dkim ? { domainName: e.dkim.domain, keySelector: e.dkim.selector, privateKey: e.dkim.privateKey } : null,
    }));
    return {
      // The subject is recorded (messages.subject): a capability link a template put there is not, nor a card number.
      kind: 'mail', mail, subject: redactCardNumbers(redactPart(content.rendered.subject, content.capabilityLinks ?? [], false)), messageIdHeader: messageIdHeader(e.messageId, e.fromDomain),
      rendered: content.rendered, capabilityLinks: content.capabilityLinks ?? [],
    };
  } catch (err) {
    return renderError(err, 'compose');
  }
}

export class Delivery {
  private readonly signer: Signer;
  constructor(private readonly deps: DeliveryDeps) {
    this.signer = { tokens: deps.tokens, bounceDomain: deps.config.bounceDomain };
  }

  get config(): DeliveryConfig { return this.deps.config; }

  /** The pre-render gate of a job: a refusal's reason, or null. */
  precheck<C extends Content>(job: DeliveryJob<C>): GateReason | null {
    return gateBeforeRender(job.facts(null));
  }

  prepare<C extends Content>(job: DeliveryJob<C>, render: () => C, prechecked = false): Prepared {
    return this.logged(job, prepareMessage(job, render, this.signer, prechecked));
  }

  async prepareAsync<C extends Content>(job: DeliveryJob<C>, render: (() => Promise<C>) | null): Promise<Prepared> {
    return this.logged(job, await prepareMessageAsync(job, render, this.signer));
  }

  private logged(job: { envelope: Envelope }, p: Prepared): Prepared {
    if (p.kind === 'failed') this.deps.log.error({ messageId: job.envelope.messageId, reason: p.reason, stage: p.stage, err: p.error }, 'message cannot be rendered or composed');
    return p;
  }

  /** Counts a message not sent: a gate refusal or no renderer (suppressed), or render_error (failed). */
  refused(reason: string): void {
    if (reason === 'render_error' || reason === 'prepare_failed') this.deps.counters?.failed(reason);
    else this.deps.counters?.suppressed(reason);
  }

  /** Logs why a single message was not sent (campaigns only count theirs). */
  logRefusal(messageId: string, reason: string): void {
    this.deps.log.info({ messageId, reason }, 'gate refused message');
  }

  reclaimed(n = 1): void {
    for (let i = 0; i < n; i++) this.deps.counters?.reclaimed();
  }

  /** Hands one composed message to SMTP (pooled, DKIM-signed by nodemailer). */
  send(mail: SendMailOptions): Promise<SendOutcome> {
    return this.deps.mailer.send(mail);
  }

  /** What the ledger should record for an SMTP outcome of attempt `attempt`. */
  settle(kind: MessageKind, attempt: number, o: SendOutcome, detail: Record<string, unknown> = {}): Settled {
    const { config, counters } = this.deps;
    if (o.kind === 'sent') {
      counters?.sent(kind);
      return { status: 'sent', reason: null, response: o.response, retryInSeconds: 0, detail: { response: o.response, attempt, ...detail } };
    }
    const held = o.kind === 'temporary' ? settleBackoff(o, attempt, config.maxAttempts) : null;
    if (held) { counters?.deferred(kind); return held; }
    if (o.kind === 'temporary' && attempt < config.maxAttempts) {
      counters?.deferred(kind);
      const delay = backoffSeconds(attempt, config.retryBaseSeconds);
      return { status: 'deferred', reason: null, response: o.response, retryInSeconds: delay, detail: { response: o.response, attempt, retryInSeconds: Math.round(delay) } };
    }
    counters?.failed(kind);
    const reason = o.kind === 'temporary' ? 'retries_exhausted' : 'rejected';
    return { status: 'failed', reason, response: o.response, retryInSeconds: 0, detail: { response: o.response, attempt, reason } };
  }

  /** Bounce handling of a 5xx, after the ledger recorded the failure. Errors are logged, never thrown. */
  async permanentFailure(tenantId: string, messageId: string, outcome: PermanentOutcome): Promise<void> {
    await this.deps.onPermanentFailure?.(tenantId, messageId, outcome)
      .catch((err: Error) => this.deps.log.error({ err: err.message, messageId }, 'permanent-failure handling failed'));
  }
}
