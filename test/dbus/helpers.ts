/**
 * What the D-Bus stage's tests share: an item list of every D-Bus type, unique service names, and
 * the external tools (gdbus, dbus-send, dbus-monitor) with timeouts. The D-Bus client is
 * test/support/bus-client.ts; waiting is test/support/wait.ts.
 */
import type { ItemDefinition } from '../../src/dbus/index.js';
import { IFACE } from '../support/bus-client.js';
import { runCommand, type CliResult } from '../support/cli.js';
import { Proc } from '../support/process.js';
import { WAIT_MS } from '../support/wait.js';

/** Mandatory paths plus data paths of every D-Bus type, some invalid. */
export function batteryItems(extra: ItemDefinition[] = []): ItemDefinition[] {
  return [
    { path: '/Mgmt/ProcessName', type: 's', value: 'vbat' },
    { path: '/Mgmt/ProcessVersion', type: 's', value: '0.1.0' },
    { path: '/Mgmt/Connection', type: 's', value: 'MQTT test' },
    { path: '/DeviceInstance', type: 'i', value: 100 },
    { path: '/ProductId', type: 'i', value: 0xffff },
    { path: '/ProductName', type: 's', value: 'vbat battery' },
    { path: '/CustomName', type: 's', value: 'Test bat', writable: true, description: 'User name' },
    { path: '/FirmwareVersion', type: 's', value: '1.2.3' },
    { path: '/HardwareVersion', type: 's', value: null },
    { path: '/Serial', type: 's', value: 'SN1' },
    { path: '/Connected', type: 'i', value: 1 },
    { path: '/Dc/0/Voltage', type: 'd', value: 52.1, text: '52.10V' },
    { path: '/Dc/0/Current', type: 'd', value: null },
    { path: '/Dc/0/Power', type: 'i', value: -300, text: '-300W' },
    { path: '/Soc', type: 'y', value: 63, text: '63%' },
    { path: '/TimeToGo', type: 'q', value: 3600 },
    { path: '/Alarms/LowVoltage', type: 'u', value: 0 },
    { path: '/System/Temp', type: 'n', value: -5 },
    { path: '/History/ChargedEnergy', type: 'x', value: 123456789012 },
    { path: '/History/Counter', type: 't', value: 42 },
    { path: '/Io/AllowToCharge', type: 'b', value: 1 },
    { path: '/Info/MaxChargeVoltage', type: 'd', value: 55.2, writable: true, format: (v) => `${v}V` },
    { path: '/Mode', type: 'i', value: 3, writable: true },
    ...extra,
  ];
}

/** A service name unique within the test process. */
let counter = 0;
export function uniqueServiceName(tag: string): string {
  return `com.victronenergy.battery.t${process.pid}_${tag}_${++counter}`;
}

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
