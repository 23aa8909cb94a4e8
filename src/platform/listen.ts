// One LISTEN connection that stays up: PostgreSQL NOTIFY wakes a worker loop (the transactional
// dispatcher on postgate_send, the webhook dispatcher on postgate_events). The loop also polls on a
// tick, so a listener that is down only delays work; this keeps one listening connection, never more.
import pg from 'pg';
import type { Logger } from './log.js';

export interface ListenOptions {
  /** The runtime login's direct URL (Db.directUrl, DATABASE_DIRECT_URL: a session connection; LISTEN does not survive transaction pooling). */
  url: string;
  channel: string;
  /** Called on every notification, and once each time the listener (re)connects. */
  onWake: () => void;
  log: Logger;
  /** Names the listener in log lines, e.g. 'dispatcher'. */
  name: string;
}

/**
 * Listens on `channel` until stop(). A connection that fails or dies is ended and replaced after 1 s;
 * a dying connection emits more than one error (the server's notice, then the closed socket), so each
 * client reconnects once, or every outage would add one more listening connection.
 */
export class NotificationListener {
  private client: pg.Client | null = null;
  private stopped = false;

  /** Throws if `channel` is not a plain lower-case identifier (it is written into the LISTEN statement as is). */
  constructor(private readonly o: ListenOptions) {
    if (!/^[a-z_][a-z0-9_]*$/.test(o.channel)) throw new Error(`not a channel name: ${o.channel}`);
  }

  /** Connects and LISTENs; never throws (a failure is logged and retried). */
  async start(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.o.url });
    client.on('notification', () => this.o.onWake());
    let retried = false;
    const retry = (why: string, err: Error) => {
      if (retried) return;
      retried = true;
      this.o.log.warn({ err: err.message }, `${this.o.name} ${why}`);
      if (this.client === client) this.client = null;
      void client.end().catch(() => undefined);
      if (!this.stopped) setTimeout(() => void this.start().catch(() => undefined), 1000);
    };
    client.on('error', (err) => retry('listener lost; reconnecting', err));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.o.channel}`);
      if (this.stopped) { await client.end().catch(() => undefined); return; }
      this.client = client;
      this.o.onWake(); // whatever was written while not listening
    } catch (err) {
      retry('cannot listen yet; retrying', err as Error);
    }
  }

  /** Ends the listening connection; no reconnect after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
