/**
 * A private dbus-daemon for `vbat demo` (and the tests): its own unix socket in a temp dir, a
 * config that allows everything on that socket, and nothing shared with the machine's system or
 * session bus.
 * Needs the `dbus-daemon` binary (Debian/Ubuntu package `dbus`). Every wait is bounded, and the
 * daemon is SIGKILLed if this process exits without stopping it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PrivateBus {
  /** The address to hand to clients: `unix:path=DIR/bus`. */
  readonly address: string;
  readonly pid: number;
  /** TERM, then KILL; resolves once the daemon is gone (bounded). Idempotent. */
  stop(): Promise<void>;
}

/** dbus-daemon is not installed (or not on PATH). */
export class MissingDbusDaemonError extends Error {
  override name = 'MissingDbusDaemonError';
  constructor() {
    super('dbus-daemon not found: install the dbus package (sudo apt-get install dbus), or give --bus ADDRESS');
  }
}

export interface PrivateBusOptions {
  /** How long to wait for the daemon to print its address; default 5000 ms. */
  timeoutMs?: number;
  /** Listen here instead of DIR/bus (tests restart a bus on the same socket). */
  socketPath?: string;
  /** Let dbus-monitor see everything (tests). */
  eavesdrop?: boolean;
  /** Extra XML inside <busconfig> (e.g. limits). */
  extraConfig?: string;
}

export async function startPrivateBus(dir: string, opts: PrivateBusOptions = {}): Promise<PrivateBus> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const socketPath = opts.socketPath ?? join(dir, 'bus');
  const configPath = join(dir, 'bus.conf');
  await writeFile(configPath, busConfig(socketPath, opts));
  // Its own process group: a Ctrl-C in the terminal reaches only vbat, which stops it in order.
  const child = spawn('dbus-daemon', ['--config-file', configPath, '--nofork', '--nopidfile', '--nosyslog', '--print-address=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  try {
    const printed = await waitForAddress(child, timeoutMs);
    let stopping: Promise<void> | undefined;
    return {
      address: printed.split(',')[0]!,
      pid: child.pid!,
      stop() {
        stopping ??= stopChild(child).then(() => {
          process.removeListener('exit', killOnExit);
        });
        return stopping;
      },
    };
  } catch (err) {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
    throw err;
  }
}

function busConfig(socketPath: string, opts: PrivateBusOptions): string {
  const eavesdrop = opts.eavesdrop ? ' eavesdrop="true"' : '';
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*"${eavesdrop}/>
    <allow receive_sender="*"/>${opts.eavesdrop ? '\n    <allow eavesdrop="true"/>' : ''}
  </policy>
  ${opts.extraConfig ?? ''}
</busconfig>
`;
}

function waitForAddress(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => done(new Error(`dbus-daemon did not start within ${timeoutMs} ms${err ? `: ${err.trim()}` : ''}`)),
      timeoutMs,
    );
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) done(undefined, out.slice(0, nl).trim());
    };
    const onErr = (chunk: Buffer): void => {
      if (err.length < 4096) err += chunk.toString();
    };
    const onExit = (code: number | null): void => done(new Error(`dbus-daemon exited (${code})${err ? `: ${err.trim()}` : ''}`));
    const onError = (e: NodeJS.ErrnoException): void =>
      done(e.code === 'ENOENT' ? new MissingDbusDaemonError() : new Error(`cannot run dbus-daemon: ${e.message}`));
    function done(e?: Error, address?: string): void {
      clearTimeout(timer);
      child.stdout!.off('data', onOut);
      child.off('exit', onExit);
      child.off('error', onError);
      // Keep draining both pipes so the daemon never blocks on a full one.
      child.stdout!.resume();
      child.stderr!.resume();
      if (e) reject(e);
      else resolve(address!);
    }
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', onErr);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** TERM, wait up to 1 s, then KILL and wait up to 1 s more. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = (ms: number): Promise<boolean> =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false).unref())]);
  child.kill('SIGTERM');
  if (await within(1000)) return;
  child.kill('SIGKILL');
  await within(1000);
}
