/**
 * The one wrapper for a long-running child process a test (or the benchmark) starts: `vbat run`,
 * `vbat demo`, `vbat watch`, dbus-monitor, mosquitto, the benchmark's processes. It keeps the
 * output (optionally only the tail, for long runs), waits for a line on it without polling, and
 * stops the process by its PID: SIGTERM, then SIGKILL, every wait bounded. A process still running
 * when the test process exits is SIGKILLed, whatever happened.
 *
 *   const p = Proc.spawn('dbus-monitor', 'dbus-monitor', ['--address', address]);
 *   await p.waitLog(/member=NameLost/);
 *   const { code, ms } = await p.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ProcOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Give the child a stdin pipe (`p.child.stdin`); otherwise it reads nothing. */
  stdin?: boolean;
  /** Its own process group; signals go to the whole group (a shell script and what it started). */
  group?: boolean;
  /** Keep only the tail of the output once it grows past this many characters (long runs). */
  maxLog?: number;
  /** How long waitLog waits by default, ms (default 10 s). */
  waitMs?: number;
  /** How long stop() waits after its first signal before SIGKILL, ms (default 5 s). */
  graceMs?: number;
}

export interface StopResult {
  /** Exit code; null when a signal ended it (or it had to be SIGKILLed). */
  code: number | null;
  /** How long stopping took. */
  ms: number;
}

type Stream = 'log' | 'out';

interface Waiter {
  stream: Stream;
  re: RegExp;
  resolve: (m: RegExpExecArray) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** How long after 'exit' the output pipes may take to close (a grandchild may hold them). */
const CLOSE_MS = 1000;
/** How much output an error message quotes. */
const TAIL = 8000;

const running = new Set<Proc>();
let exitHook = false;

export class Proc {
  /** stdout and stderr as they arrived, interleaved. */
  log = '';
  /** stdout alone. */
  out = '';
  /** stderr alone. */
  err = '';
  /** Why it could not be started (e.g. ENOENT), if it could not. */
  error?: Error;
  /** Resolves with the exit code (null after a signal) once the process is gone and its output read. */
  readonly exited: Promise<number | null>;
  private readonly waiters = new Set<Waiter>();
  private done = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly opts: ProcOptions,
  ) {
    child.stdout?.on('data', (d: Buffer) => this.append(d.toString(), 'out'));
    child.stderr?.on('data', (d: Buffer) => this.append(d.toString(), 'err'));
    this.exited = new Promise((resolve) => {
      const finish = (code: number | null): void => {
        if (this.done) return;
        this.done = true;
        running.delete(this);
        for (const w of this.waiters)
          this.settle(w, new Error(`${this.name} exited (${this.status}) before printing ${w.re}${this.tail()}`));
        resolve(code);
      };
      child.once('exit', (code) => {
        running.delete(this);
        const late = setTimeout(() => finish(code), CLOSE_MS);
        child.once('close', () => {
          clearTimeout(late);
          finish(code);
        });
      });
      child.once('error', (e) => {
        this.error = e;
        this.append(`${this.name}: ${e.message}\n`, 'err');
        if (child.pid === undefined) finish(null);
      });
    });
    running.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const p of running) p.signal('SIGKILL');
      });
    }
  }

  /** Start `cmd args` with stdout and stderr piped into this wrapper. */
  static spawn(name: string, cmd: string, args: string[], opts: ProcOptions = {}): Proc {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: opts.group ?? false,
    });
    return new Proc(name, child, opts);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && !this.error;
  }

  /** The exit code, or null while it runs (or when a signal ended it). */
  get exitCode(): number | null {
    return this.child.exitCode;
  }

  /** Wait (bounded) for output on stdout or stderr matching `re`; rejects early if the process ends. */
  waitLog(re: RegExp, timeoutMs = this.opts.waitMs ?? 10_000): Promise<RegExpExecArray> {
    return this.wait('log', re, timeoutMs);
  }

  /** Like waitLog, on stdout alone (what a user sees of a command, without its log lines). */
  waitOut(re: RegExp, timeoutMs = this.opts.waitMs ?? 10_000): Promise<RegExpExecArray> {
    return this.wait('out', re, timeoutMs);
  }

  /** How many lines of output match `re`. */
  count(re: RegExp): number {
    return this.log.split('\n').filter((l) => re.test(l)).length;
  }

  /** Send `sig` to the process (or its group); harmless once it has gone. */
  signal(sig: NodeJS.Signals): void {
    if (!this.running || this.child.pid === undefined) return;
    try {
      if (this.opts.group) process.kill(-this.child.pid, sig);
      else this.child.kill(sig);
    } catch {
      // already gone
    }
  }

  /** `signal` (SIGTERM), then SIGKILL after the grace time; resolves once it is gone (bounded). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<StopResult> {
    const t = Date.now();
    this.signal(signal);
    let code = await within(this.exited, this.opts.graceMs ?? 5000);
    if (code === undefined) {
      this.signal('SIGKILL');
      await within(this.exited, 2000);
      code = null;
    }
    return { code, ms: Date.now() - t };
  }

  /** The exit code, once it has exited. */
  exit(): Promise<number | null> {
    return this.exited;
  }

  private get status(): string {
    return String(this.child.exitCode ?? this.child.signalCode ?? this.error?.message);
  }

  private tail(): string {
    return `; output:\n${this.log.slice(-TAIL)}`;
  }

  private wait(stream: Stream, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        stream,
        re,
        resolve,
        reject,
        timer: setTimeout(
          () => this.settle(w, new Error(`${this.name} did not print ${re} within ${timeoutMs} ms${this.tail()}`)),
          timeoutMs,
        ),
      };
      this.waiters.add(w);
      const m = this.match(w);
      if (m) this.settle(w, m);
      else if (this.done) this.settle(w, new Error(`${this.name} exited (${this.status}) before printing ${re}${this.tail()}`));
    });
  }

  private match(w: Waiter): RegExpExecArray | null {
    w.re.lastIndex = 0;
    return w.re.exec(w.stream === 'out' ? this.out : this.log);
  }

  private settle(w: Waiter, result: RegExpExecArray | Error): void {
    clearTimeout(w.timer);
    this.waiters.delete(w);
    if (result instanceof Error) w.reject(result);
    else w.resolve(result);
  }

  private append(text: string, stream: 'out' | 'err'): void {
    this.log = this.capped(this.log + text);
    if (stream === 'out') this.out = this.capped(this.out + text);
    else this.err = this.capped(this.err + text);
    for (const w of this.waiters) {
      if (w.stream === 'out' && stream !== 'out') continue;
      const m = this.match(w);
      if (m) this.settle(w, m);
    }
  }

  /** The last half of the cap once the text has grown past it (one cut now and then, not per chunk). */
  private capped(text: string): string {
    const max = this.opts.maxLog;
    return max !== undefined && text.length > max ? text.slice(-max / 2) : text;
  }
}

/** The promise's value, or undefined when `ms` passes first (the timer does not hold the process). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(r, ms, undefined)))]).finally(() => clearTimeout(timer));
}
