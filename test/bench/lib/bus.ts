/**
 * The benchmark's D-Bus side: a separate client (dbus-next's low-level message API, not vbat's
 * code) that watches ItemsChanged signals and reads values, as a Venus consumer would.
 */
import { Message, MessageType, sessionBus, type MessageBus, type Variant } from 'dbus-next';
import { performance } from 'node:perf_hooks';
import { bounded, sleep } from '../../dbus/helpers.js';

export const IFACE = 'com.victronenergy.BusItem';
export const serviceOf = (name: string): string => `com.victronenergy.battery.vbat_${name}`;

export type ItemsChanged = Record<string, { Value: Variant; Text: Variant }>;

export class BusReader {
  private readonly listeners = new Set<(m: Message) => void>();

  private constructor(readonly bus: MessageBus) {
    bus.on('message', (m: Message) => {
      if (m.type !== MessageType.SIGNAL) return;
      for (const l of this.listeners) l(m);
    });
  }

  static async connect(address: string): Promise<BusReader> {
    const bus = sessionBus({ busAddress: address });
    bus.on('error', () => undefined);
    await bounded(new Promise<void>((res) => bus.once('connect', () => res())), 'D-Bus reader connect');
    return new BusReader(bus);
  }

  /** Call on every signal; returns the function that removes the listener. */
  onSignal(fn: (m: Message) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  call(
    dest: string,
    path: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    iface = IFACE,
    timeoutMs = 5000,
  ): Promise<Message> {
    return bounded(
      this.bus.call(new Message({ destination: dest, path, interface: iface, member, signature, body })).then((r) => r!),
      `${member} ${path} on ${dest}`,
      timeoutMs,
    );
  }

  daemon(member: string, signature = '', body: unknown[] = []): Promise<Message> {
    return this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', member, signature, body, 'org.freedesktop.DBus');
  }

  addMatch(rule: string): Promise<Message> {
    return this.daemon('AddMatch', 's', [rule]);
  }

  removeMatch(rule: string): Promise<Message> {
    return this.daemon('RemoveMatch', 's', [rule]);
  }

  async nameOwner(name: string): Promise<string | undefined> {
    try {
      return (await this.daemon('GetNameOwner', 's', [name])).body[0] as string;
    } catch {
      return undefined;
    }
  }

  /** A path's value (null when invalid). */
  async value(service: string, path: string): Promise<unknown> {
    const v = (await this.call(service, path, 'GetValue')).body[0] as Variant;
    return v.signature === 'ai' ? null : v.value;
  }

  /** Poll (bounded) until the name has an owner; returns the owner's unique name. */
  async waitName(name: string, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const owner = await this.nameOwner(name);
      if (owner) return owner;
      if (Date.now() > end) throw new Error(`${name} did not appear on the bus within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  /** Poll (bounded) until `cond(value of path)` holds. Resolves with the time it was seen. */
  async until(
    service: string,
    path: string,
    cond: (v: unknown) => boolean,
    what: string,
    timeoutMs = 10_000,
    everyMs = 10,
  ): Promise<number> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        last = await this.value(service, path);
        if (cond(last)) return performance.now();
      } catch {
        // not there yet
      }
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${path} = ${JSON.stringify(last)})`);
      await sleep(everyMs);
    }
  }

  close(): void {
    this.bus.disconnect();
  }
}
