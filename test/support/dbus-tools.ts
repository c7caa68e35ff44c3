/**
 * The D-Bus tools a Venus user has (GLib's gdbus, libdbus's dbus-send and dbus-monitor), run
 * against a test's private bus with timeouts: what a client that is not dbus-next sees.
 */
import { IFACE } from './bus-client.js';
import { runCommand, type CliResult } from './cli.js';
import { Proc } from './process.js';
import { WAIT_MS } from './wait.js';

/** Run gdbus/dbus-send to its end (the service shares our event loop, so never synchronously), within 5 s. */
export function runTool(cmd: string, args: string[]): Promise<CliResult> {
  return runCommand(cmd, args, { timeoutMs: WAIT_MS });
}

/** `gdbus call` against a service; returns stdout, throws with stderr on failure. */
export async function gdbusCall(address: string, dest: string, path: string, method: string, ...args: string[]): Promise<string> {
  const r = await runTool('gdbus', [
    'call',
    '--address',
    address,
    '--dest',
    dest,
    '--object-path',
    path,
    '--method',
    `${IFACE}.${method}`,
    ...args,
  ]);
  if (r.code !== 0) throw new Error(`gdbus ${method} ${path} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** `dbus-send --print-reply`; returns the whole result (errors land in stderr). */
export function dbusSend(address: string, dest: string, path: string, method: string, ...args: string[]): Promise<CliResult> {
  return runTool('dbus-send', [`--bus=${address}`, '--print-reply', `--dest=${dest}`, path, `${IFACE}.${method}`, ...args]);
}

/** A running dbus-monitor (libdbus) capturing text output. */
export class Monitor {
  private constructor(private readonly proc: Proc) {}

  /** Start and wait until it has become a monitor (it then prints NameLost for itself). */
  static async start(address: string, rule: string): Promise<Monitor> {
    const proc = Proc.spawn('dbus-monitor', 'dbus-monitor', ['--address', address, rule], { waitMs: WAIT_MS });
    try {
      await proc.waitLog(/member=NameLost/);
    } catch (e) {
      await proc.stop();
      throw e;
    }
    return new Monitor(proc);
  }

  get text(): string {
    return this.proc.log;
  }

  /** The printed messages (each starts with its type and 'time='), without the monitor's own. */
  messages(member?: string): string[] {
    return this.proc.log
      .split(/\n(?=(?:signal|method call|method return|error) time=)/)
      .filter((m) => m.includes(`interface=${IFACE}`) && (!member || m.includes(`member=${member}`)));
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
