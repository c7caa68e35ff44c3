/**
 * The battery's message queue: messages that arrive in the same socket read are handled together,
 * once (setImmediate), one batch at a time. When messages replace the document (json without
 * merge) only the newest per topic matters, so a burst collapses to its last value per topic —
 * the last value is never lost. Bounded: past `max` waiting messages the oldest are dropped.
 *
 * With `settleMs`, a batch waits that long after its first message: a source that sends one value
 * per topic (ESPHome: ~80 topics per BMS reading, in a burst) is then mapped and put on D-Bus once
 * per reading instead of once per socket read the burst happens to arrive in.
 */
export interface Queued {
  topic: string;
}

export interface QueueOptions<M extends Queued> {
  latestOnly: boolean;
  max: number;
  /** Handles one batch; the next batch waits for it. */
  handle: (batch: M[]) => Promise<void>;
  onOverflow: () => void;
  /** A batch's handler threw: reported, and the queue goes on with the next. */
  onError: (err: unknown) => void;
  /** How long a batch gathers messages after its first (0: only those of the same socket read). */
  settleMs?: number;
  /** Runs a drain later (fakes in tests); by default setImmediate, or a settleMs timer. */
  schedule?: (fn: () => void) => void;
}

export class MessageQueue<M extends Queued> {
  private pending: M[] = [];
  private scheduled = false;
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  private readonly schedule: (fn: () => void) => void;

  constructor(private readonly opts: QueueOptions<M>) {
    const settle = opts.settleMs ?? 0;
    this.schedule = opts.schedule ?? (settle > 0 ? (fn) => void setTimeout(fn, settle) : setImmediate);
  }

  push(m: M): void {
    if (this.pending.length >= this.opts.max) {
      this.pending.shift();
      this.opts.onOverflow();
    }
    this.pending.push(m);
    if (!this.scheduled && !this.busy) {
      this.scheduled = true;
      this.schedule(() => void this.drain());
    }
  }

  /** Resolves once every message pushed so far has been handled. */
  idle(): Promise<void> {
    if (!this.scheduled && !this.busy && !this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.busy = true;
    while (this.pending.length) {
      const batch = this.opts.latestOnly ? latestPerTopic(this.pending) : this.pending;
      this.pending = [];
      try {
        await this.opts.handle(batch);
      } catch (err) {
        this.opts.onError(err);
      }
    }
    this.busy = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

function latestPerTopic<M extends Queued>(messages: M[]): M[] {
  if (messages.length < 2) return messages;
  const latest = new Map<string, M>();
  for (const m of messages) {
    latest.delete(m.topic); // keep arrival order of the survivors
    latest.set(m.topic, m);
  }
  return [...latest.values()];
}
