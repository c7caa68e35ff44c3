/**
 * Client-side helpers for the D-Bus tests: an item list, a dbus-next client speaking the
 * low-level message API (no proxies, so it sees exactly what is on the wire), the external
 * tools (gdbus, dbus-send, dbus-monitor) with timeouts, and bounded waiting.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { Message, MessageType, sessionBus, type MessageBus } from 'dbus-next';
import type { ItemDefinition } from '../../src/dbus/index.js';
import { stopChild } from '../support/dbus-daemon.js';

export const IFACE = 'com.victronenergy.BusItem';
const WAIT_MS = 5000;

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

/** Resolve when cond() is true; reject after timeoutMs. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Like waitFor, for an asynchronous condition (e.g. asking the bus daemon). */
export async function eventually(cond: () => Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A dbus-next client with bounded calls and signal capture. */
export class Client {
  readonly signals: Message[] = [];

  private constructor(readonly bus: MessageBus) {
    bus.on('message', (m: Message) => {
      if (m.type === MessageType.SIGNAL) this.signals.push(m);
    });
  }

  static async connect(address: string): Promise<Client> {
    const bus = sessionBus({ busAddress: address });
    bus.on('error', () => undefined); // a test failure should not also crash the runner
    await bounded(new Promise<void>((res) => bus.once('connect', () => res())), 'client connect');
    return new Client(bus);
  }

  get name(): string {
    return (this.bus as unknown as { name: string }).name;
  }

  call(dest: string, path: string, member: string, signature = '', body: unknown[] = [], iface = IFACE): Promise<Message> {
    const msg = new Message({ destination: dest, path, interface: iface, member, signature, body });
    return bounded(
      this.bus.call(msg).then((r) => r!),
      `${member} on ${path}`,
    );
  }

  daemon(member: string, signature = '', body: unknown[] = []): Promise<Message> {
    return this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', member, signature, body, 'org.freedesktop.DBus');
  }

  async addMatch(rule: string): Promise<void> {
    await this.daemon('AddMatch', 's', [rule]);
  }

  /** Signals received so far with this member (and path, if given). */
  received(member: string, path?: string): Message[] {
    return this.signals.filter((s) => s.member === member && (path === undefined || s.path === path));
  }

  close(): void {
    this.bus.disconnect();
  }
}

export function bounded<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run gdbus/dbus-send asynchronously (the service shares our event loop), killed after 5 s. */
export function runTool(cmd: string, args: string[]): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: WAIT_MS, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
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
export function dbusSend(address: string, dest: string, path: string, method: string, ...args: string[]): Promise<ToolResult> {
  return runTool('dbus-send', [`--bus=${address}`, '--print-reply', `--dest=${dest}`, path, `${IFACE}.${method}`, ...args]);
}

/** A running dbus-monitor (libdbus) capturing text output. */
export class Monitor {
  private out = '';

  private constructor(private readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.out += c.toString()));
  }

  /** Start and wait until it has become a monitor (it then prints NameLost for itself). */
  static async start(address: string, rule: string): Promise<Monitor> {
    const child = spawn('dbus-monitor', ['--address', address, rule], { stdio: ['ignore', 'pipe', 'pipe'] });
    const m = new Monitor(child);
    try {
      await waitFor(() => m.out.includes('member=NameLost'), 'dbus-monitor to start');
    } catch (e) {
      await m.stop();
      throw e;
    }
    return m;
  }

  get text(): string {
    return this.out;
  }

  /** The printed messages (each starts with its type and 'time='), without the monitor's own. */
  messages(member?: string): string[] {
    return this.out
      .split(/\n(?=(?:signal|method call|method return|error) time=)/)
      .filter((m) => m.includes(`interface=${IFACE}`) && (!member || m.includes(`member=${member}`)));
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
