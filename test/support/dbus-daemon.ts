/**
 * A private dbus-daemon for tests: the demo's launcher (src/demo/dbus-daemon.ts) in a fresh temp
 * dir, with eavesdropping allowed so dbus-monitor sees everything. Never the machine's system or
 * session bus.
 *
 *   let bus: DbusDaemon;
 *   before(async () => { bus = await startDbusDaemon(); });
 *   after(() => bus.stop());
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrivateBus } from '../../src/demo/dbus-daemon.js';

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
  const dir = await mkdtemp(join(tmpdir(), 'vbat-dbus-'));
  const socketPath = options.socketPath ?? join(dir, 'bus');
  let bus;
  try {
    bus = await startPrivateBus(dir, { ...options, socketPath, eavesdrop: true });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    address: bus.address,
    socketPath,
    dir,
    pid: bus.pid,
    stop() {
      stopping ??= bus.stop().then(() => rm(dir, { recursive: true, force: true }));
      return stopping;
    },
  };
}
