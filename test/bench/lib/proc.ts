/**
 * Child processes of the benchmark (vbat itself, the floor processes: the tests' Proc wrapper) and
 * what /proc says about a pid: CPU time (on-CPU time of all threads from
 * /proc/<pid>/task/<tid>/schedstat, with utime + stime of /proc/<pid>/stat as the cross-check) and
 * memory (VmRSS, VmHWM of /proc/<pid>/status).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Proc } from '../../support/process.js';

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

/** CPU time the process used so far as utime + stime say, in ms (resolution: one clock tick): the cross-check. */
export function statCpuMs(pid: number): number {
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
 * too coarse for a floor process that uses 40 ms in a 10 s window. Falls back to statCpuMs().
 */
export function cpuMs(pid: number): number {
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
    return statCpuMs(pid);
  }
}

/**
 * CPU ms so far of a process's main thread (its tid is its pid) and of all its other threads
 * together (V8's compiler and GC helpers, libuv's pool): the others going quiet says V8 has
 * finished compiling the hot code.
 */
export function threadCpuMs(pid: number): { main: number; others: number } {
  const total = cpuMs(pid);
  let main: number;
  try {
    main = Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    main = total;
  }
  return { main, others: Math.max(0, total - main) };
}

export interface Memory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size, MB. */
  hwmMb: number;
  /** Private (anonymous) resident memory, MB: what the process costs beyond shared files. */
  rssAnonMb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, rssAnonMb: kb('RssAnon') / 1024 };
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

/** The output a benchmark process keeps: its tail, so a long run does not grow. */
const MAX_LOG = 64 * 1024;

/** Start `node [flags] <script> ...args` without tsx and without inherited NODE_OPTIONS. */
export function nodeProc(
  name: string,
  script: string,
  args: string[],
  opts: { cwd?: string; stdin?: boolean; nodeFlags?: string[] } = {},
): Proc {
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  return Proc.spawn(name, process.execPath, [...(opts.nodeFlags ?? []), script, ...args], {
    cwd: opts.cwd,
    env,
    stdin: opts.stdin,
    maxLog: MAX_LOG,
    graceMs: 1000,
  });
}
