/**
 * A private dbus-daemon for tests: its own unix socket in a fresh temp dir, a config that allows
 * everything on that socket, and nothing shared with the machine's system or session bus.
 *
 *   let bus: DbusDaemon;
 *   before(async () => { bus = await startDbusDaemon(); });
 *   after(() => bus.stop());
 *
 * Every wait is bounded, and the daemon is SIGKILLed when the test process exits, so a failing
 * test cannot leave it running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DbusDaemon {
  /** Address to hand to clients, e.g. 'unix:path=/tmp/vbat-dbus-XXXX/bus'. */
  readonly address: string;
  readonly socketPath: string;
  readonly dir: string;
  readonly pid: number;
  /** Stop the daemon (TERM, then KILL) and remove its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** How long to wait for the daemon to print its address; default 5000 ms. */
  timeoutMs?: number;
  /** Extra XML inserted into <busconfig> (e.g. limits). */
  extraConfig?: string;
  /** Listen on this socket instead of a new one (a "restarted" bus); its folder is not removed. */
  socketPath?: string;
}

export async function startDbusDaemon(options: DaemonOptions = {}): Promise<DbusDaemon> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const dir = await mkdtemp(join(tmpdir(), 'vbat-dbus-'));
  const socketPath = options.socketPath ?? join(dir, 'bus');
  const configPath = join(dir, 'bus.conf');
  await writeFile(configPath, daemonConfig(socketPath, options.extraConfig ?? ''));

  const child = spawn(
    'dbus-daemon',
    ['--config-file', configPath, '--nofork', '--nopidfile', '--nosyslog', '--print-address=1'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let printed: string;
  try {
    printed = await waitForAddress(child, timeoutMs);
  } catch (e) {
    await stopChild(child);
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    // The printed address carries a guid; clients only need the path.
    address: printed.split(',')[0]!,
    socketPath,
    dir,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        await stopChild(child);
        process.removeListener('exit', killOnExit);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

function daemonConfig(socketPath: string, extra: string): string {
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
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
  ${extra}
</busconfig>
`;
}

function waitForAddress(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => done(new Error(`dbus-daemon did not start within ${timeoutMs} ms: ${err}`)),
      timeoutMs,
    );
    const onOut = (chunk: Buffer): void => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) done(undefined, out.slice(0, nl).trim());
    };
    const onErr = (chunk: Buffer): void => {
      err += chunk.toString();
    };
    const onExit = (code: number | null): void => done(new Error(`dbus-daemon exited (${code}): ${err}`));
    const onError = (e: Error): void => done(new Error(`cannot run dbus-daemon: ${e.message}`));
    function done(e?: Error, address?: string): void {
      clearTimeout(timer);
      child.stdout!.off('data', onOut);
      child.off('exit', onExit);
      child.off('error', onError);
      if (e) reject(e);
      else resolve(address!);
    }
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', onErr);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

/** TERM, wait up to 2 s, then KILL and wait up to 2 s more. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = (ms: number): Promise<boolean> =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(r, ms, false).unref())]);
  child.kill('SIGTERM');
  if (await within(2000)) return;
  child.kill('SIGKILL');
  await within(2000);
}
