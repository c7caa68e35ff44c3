/**
 * The live part of `vbat watch` and `vbat demo`: redraw the view in place on a terminal (at most
 * 5 times a second, and once a second for the ages), or print a compact line per update, at most
 * once a second, when stdout is a pipe or a file. And the wait for Ctrl-C / a time limit.
 */
import { renderLine, renderView, WIDTH, type ViewOptions } from './view.js';
import type { Snapshot } from './watcher.js';

export interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
  /** A terminal's size (Node sets these on a TTY stream). */
  columns?: number;
  rows?: number;
}

export interface LiveOptions {
  out: Output;
  /** Redraw in place (ANSI) instead of printing lines; default out.isTTY. */
  tty?: boolean;
  /** View options, asked again at every draw (footers change). */
  view?: () => ViewOptions;
}

const REDRAW_MS = 200;
const LINE_MS = 1000;

export class LiveView {
  private readonly tty: boolean;
  private timer?: NodeJS.Timeout;
  private ticker?: NodeJS.Timeout;
  private dirty = false;
  private lastDraw = 0;
  private stopped = false;
  /** Lines printed (pipe mode) or screens drawn (terminal mode). */
  draws = 0;

  constructor(
    private readonly snapshot: () => Snapshot,
    private readonly opts: LiveOptions,
  ) {
    this.tty = opts.tty ?? opts.out.isTTY === true;
  }

  start(): void {
    if (this.tty) {
      this.opts.out.write('\x1b[?25l\x1b[2J'); // hide the cursor, clear once
      this.draw();
      // Ages and the clock move even when nothing changes.
      this.ticker = setInterval(() => this.draw(), 1000);
      this.ticker.unref();
    }
  }

  /** Something changed: draw soon (throttled). */
  update(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (this.timer) return;
    const wait = Math.max(0, this.lastDraw + (this.tty ? REDRAW_MS : LINE_MS) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.dirty) this.draw();
    }, wait);
    this.timer.unref();
  }

  /** Stop drawing; on a terminal draw the last screen and give the cursor back. */
  stop(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    if (this.ticker) clearInterval(this.ticker);
    if (this.tty) {
      this.draw();
      this.opts.out.write('\x1b[?25h');
    } else if (this.dirty) {
      this.draw(); // the last state is printed too
    }
    this.stopped = true;
  }

  private draw(): void {
    if (this.stopped) return;
    this.dirty = false;
    this.lastDraw = Date.now();
    this.draws++;
    const snap = this.snapshot();
    if (this.tty) {
      let lines = renderView(snap, this.opts.view?.() ?? {});
      // A smaller terminal than the view: cut rather than wrap or scroll, so redrawing in place works.
      const { columns, rows } = this.opts.out;
      if (columns && columns < WIDTH) lines = lines.map((l) => l.slice(0, columns - 1));
      if (rows && lines.length > rows - 1) lines = lines.slice(0, Math.max(1, rows - 1));
      // Home, each line over the old one (erasing its rest), then erase below.
      this.opts.out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
    } else {
      this.opts.out.write(`${renderLine(snap, this.lastDraw)}\n`);
    }
  }
}

export type StopReason = 'SIGINT' | 'SIGTERM' | 'duration' | 'done' | 'error';

export interface Stopper {
  /** Resolves with the first reason to stop. */
  readonly stopped: Promise<{ reason: StopReason; error?: Error }>;
  /** The reason, once there is one. */
  readonly reason: StopReason | undefined;
  /** Stop now (e.g. a start-up failure); releases the signal handlers and the timer. */
  stop(reason: StopReason, error?: Error): void;
}

/**
 * Stops on SIGINT/SIGTERM, after `seconds` (when given), or when `until` settles (resolve:
 * 'done', reject: 'error'). The signal handlers are removed once stopped, so a second Ctrl-C
 * during a slow cleanup still ends the process the default way.
 */
export function stopper(seconds?: number, until?: Promise<unknown>): Stopper {
  let resolve!: (r: { reason: StopReason; error?: Error }) => void;
  const stopped = new Promise<{ reason: StopReason; error?: Error }>((r) => (resolve = r));
  let timer: NodeJS.Timeout | undefined;
  let reason: StopReason | undefined;
  const stop = (why: StopReason, error?: Error) => {
    if (reason) return;
    reason = why;
    process.removeListener('SIGINT', onInt);
    process.removeListener('SIGTERM', onTerm);
    if (timer) clearTimeout(timer);
    resolve({ reason: why, error });
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (seconds !== undefined) timer = setTimeout(() => stop('duration'), seconds * 1000);
  until?.then(
    () => stop('done'),
    (err: unknown) => stop('error', err instanceof Error ? err : new Error(String(err))),
  );
  return {
    stopped,
    get reason() {
      return reason;
    },
    stop,
  };
}
