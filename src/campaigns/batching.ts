// Two small tools of the drain: a semaphore bounding the sends in flight in this process, and an
// outcome buffer that writes results to the ledger in batches (every N outcomes or few ms), so that
// what the ledger does not yet know after a crash is only what finished in the last moment.
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}

  async acquire(): Promise<void> {
    if (this.active < this.size) { this.active++; return; }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.active--;
  }
}

export class OutcomeBuffer<T> {
  private pending: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(private readonly write: (items: T[]) => Promise<void>, private readonly maxItems: number, private readonly maxDelayMs: number) {}

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length >= this.maxItems) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.maxDelayMs);
  }

  private flush(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (!this.pending.length) return;
    const items = this.pending;
    this.pending = [];
    this.chain = this.chain.then(() => this.write(items)).catch((err: Error) => { this.failure ??= err; });
  }

  /** Writes what is left and waits for every write; throws the first write error. */
  async close(): Promise<void> {
    this.flush();
    await this.chain;
    if (this.failure) throw this.failure;
  }
}
