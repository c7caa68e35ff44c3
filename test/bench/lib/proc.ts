/**
 * Child processes of the benchmark (vbat itself, the floor processes) and what /proc says about
 * them: CPU time (on-CPU time of all threads from /proc/<pid>/task/<tid>/schedstat, with
 * utime + stime of /proc/<pid>/stat as the cross-check) and memory (VmRSS, VmHWM of
 * /proc/<pid>/status). Every process is killed when the benchmark exits, whatever happens.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { stopChild } from '../../support/dbus-daemon.js';
import { sleep } from '../../dbus/helpers.js';

let ticks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK, 100 on Linux). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU time the process used so far, user + system, in ms (resolution: one clock tick). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks();
}

/**
 * CPU time so far in ms with nanosecond resolution: the on-CPU time of every thread
 * (/proc/<pid>/task/<tid>/schedstat, first field). utime + stime count in clock ticks (10 ms),
 * too coarse for a floor process that uses 40 ms in a 10 s window. Falls back to cpuMs().
 */
export function cpuPreciseMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1e6;
  } catch {
    return cpuMs(pid);
  }
}

export interface Memory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size, MB. */
  hwmMb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** Pids of this process's children running `comm` (e.g. the private mosquitto). */
export function childPids(comm: string, parent = process.pid): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (name === comm && ppid === parent) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const MAX_LOG = 64 * 1024;

/** A child process with its output kept (the last 64 KB) for error messages and log waits. */
export class Proc {
  log = '';
  readonly exited: Promise<number | null>;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer): void => {
      this.log += d.toString();
      if (this.log.length > MAX_LOG) this.log = this.log.slice(-MAX_LOG / 2);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    process.once('exit', this.killOnExit);
  }

  /** Start `node [flags] <script> ...args` without tsx and without inherited NODE_OPTIONS. */
  static node(name: string, script: string, args: string[], opts: { cwd?: string; stdin?: boolean; nodeFlags?: string[] } = {}): Proc {
    const env = { ...process.env };
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), script, ...args], {
      cwd: opts.cwd,
      env,
      stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    return new Proc(name, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** CPU ms so far (all threads, ns resolution: cpuPreciseMs). */
  cpuMs(): number {
    return cpuPreciseMs(this.pid);
  }

  /** CPU ms so far as utime + stime say (10 ms ticks), the cross-check. */
  statCpuMs(): number {
    return cpuMs(this.pid);
  }

  memory(): Memory {
    return memory(this.pid);
  }

  /** Wait (bounded) for a line of output matching `re`. */
  async waitLog(re: RegExp, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!re.test(this.log)) {
      if (!this.running) throw new Error(`${this.name} exited (${this.child.exitCode}) before printing ${re}:\n${this.log.slice(-2000)}`);
      if (Date.now() > end) throw new Error(`${this.name} did not print ${re} within ${timeoutMs} ms:\n${this.log.slice(-2000)}`);
      await sleep(5);
    }
  }

  /** SIGTERM, then SIGKILL after 2 s; bounded. */
  async stop(): Promise<void> {
    await stopChild(this.child);
    process.removeListener('exit', this.killOnExit);
  }
}
