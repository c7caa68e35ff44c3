/**
 * A small leveled logger for a daemon run under daemontools/multilog (which adds timestamps).
 * `warnLimited` keeps a flood of identical complaints (a BMS sending junk 20 times a second) to
 * one line per key per interval, with a count of what was held back.
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

export interface LogSink {
  write(line: string): void;
}

export class Logger {
  private readonly limited = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private level: LogLevel = 'info',
    private readonly sink: LogSink = { write: (l) => process.stderr.write(l) },
    private readonly warningIntervalMs = 60_000,
    private readonly scope = '',
    private readonly now: () => number = Date.now,
    shared?: Map<string, { last: number; suppressed: number }>,
  ) {
    if (shared) this.limited = shared;
  }

  /** A logger whose lines start with `scope:` (e.g. the battery name); shares the rate limits. */
  child(scope: string): Logger {
    return new Logger(
      this.level,
      this.sink,
      this.warningIntervalMs,
      this.scope ? `${this.scope}: ${scope}` : scope,
      this.now,
      this.limited,
    );
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] <= ORDER[this.level];
  }

  error(msg: string): void {
    this.log('error', msg);
  }
  warn(msg: string): void {
    this.log('warn', msg);
  }
  info(msg: string): void {
    this.log('info', msg);
  }
  /** Debug lines on hot paths take a closure so nothing is built when debug is off. */
  debug(msg: string | (() => string)): void {
    if (this.enabled('debug')) this.log('debug', typeof msg === 'string' ? msg : msg());
  }

  /** A warning printed at most once per interval per key; repeats are counted. */
  warnLimited(key: string, msg: string): void {
    if (!this.enabled('warn')) return;
    const k = `${this.scope}|${key}`;
    const t = this.now();
    const entry = this.limited.get(k);
    if (entry && t - entry.last < this.warningIntervalMs) {
      entry.suppressed++;
      return;
    }
    const extra = entry?.suppressed ? ` (${entry.suppressed} more like this in the last ${Math.round((t - entry.last) / 1000)} s)` : '';
    this.limited.set(k, { last: t, suppressed: 0 });
    this.log('warn', msg + extra);
  }

  private log(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    this.sink.write(`${level.toUpperCase()} ${this.scope ? `${this.scope}: ` : ''}${msg}\n`);
  }
}
