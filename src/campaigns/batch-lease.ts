// What a worker holds while it sends one claimed batch: the rows not yet recorded (with the attempt
// number of its claim, the fence against a take-over), until when its lease surely holds, the rows
// it has lost to another worker, and whether the database is failing it right now. A message is
// handed to SMTP only while all of this says the row is still ours and its outcome can be written.
export class BatchLease {
  /** id → attempt of our claim, for rows whose outcome is not written yet. */
  readonly unrecorded = new Map<string, number>();
  private okUntil: number;
  private readonly lost = new Set<string>();
  private failing = false;
  private readonly margin: number;

  constructor(rows: readonly { id: string; attempts: number }[], private readonly leaseMs: number, now = Date.now()) {
    for (const r of rows) this.unrecorded.set(r.id, r.attempts);
    this.margin = Math.min(2000, leaseMs / 5);
    this.okUntil = now + leaseMs - this.margin;
  }

  /** May this row still be handed to SMTP (lease not near its end, not taken over)? */
  holds(id: string, now = Date.now()): boolean {
    return now < this.okUntil && !this.lost.has(id);
  }

  /** Taken over by another worker: leave it alone, write nothing for it. */
  isLost(id: string): boolean {
    return this.lost.has(id);
  }

  /** A renewal that started at `at` extended these rows; the others still unrecorded are not ours any more. */
  renewed(at: number, ids: ReadonlySet<string>): void {
    this.okUntil = at + this.leaseMs - this.margin;
    for (const id of this.unrecorded.keys()) if (!ids.has(id)) this.lost.add(id);
    this.failing = false;
  }

  recorded(ids: readonly string[]): void {
    for (const id of ids) this.unrecorded.delete(id);
    this.failing = false;
  }

  forget(id: string): void {
    this.unrecorded.delete(id);
  }

  /** The database refused a renewal or an outcome write (an outage): hold further sends. */
  trouble(): void {
    this.failing = true;
  }

  get databaseFailing(): boolean {
    return this.failing;
  }
}
