/**
 * The one D-Bus client of the tests and the benchmark: dbus-next's low-level message API (no
 * proxies, and none of vbat's own code), so it sees exactly what is on the wire, as a Venus
 * consumer would. Every call is bounded. Signals are recorded for assertions (`received`), or,
 * for a long benchmark run whose memory must not grow, only handed to `onSignal` listeners.
 *
 *   const c = await BusClient.connect(bus.address);
 *   await c.addMatch(`type='signal',interface='${IFACE}'`);
 *   const items = await c.until(service, (i) => i['/Connected']?.value === 1, 'connected');
 */
import { Message, MessageType, sessionBus, type MessageBus, type Variant } from 'dbus-next';
import { performance } from 'node:perf_hooks';
import { bounded, sleep, WAIT_MS } from './wait.js';

export const IFACE = 'com.victronenergy.BusItem';

/** What GetItems and ItemsChanged carry: path → {Value, Text}. */
export type ItemsChanged = Record<string, { Value: Variant; Text: Variant }>;

export interface Item {
  value: unknown;
  /** D-Bus signature of the value's variant ('ai' for invalid). */
  type: string;
  text: string;
}

export interface ClientOptions {
  /** Keep every signal in `signals` (default true); false for long runs, where only listeners see them. */
  record?: boolean;
}

export class BusClient {
  /** Every signal received so far (empty when not recording). */
  readonly signals: Message[] = [];
  private readonly listeners = new Set<(m: Message) => void>();

  private constructor(
    readonly bus: MessageBus,
    record: boolean,
  ) {
    bus.on('message', (m: Message) => {
      if (m.type !== MessageType.SIGNAL) return;
      if (record) this.signals.push(m);
      for (const l of this.listeners) l(m);
    });
  }

  static async connect(address: string, opts: ClientOptions = {}): Promise<BusClient> {
    const bus = sessionBus({ busAddress: address });
    bus.on('error', () => undefined); // a test failure should not also crash the runner
    await bounded(new Promise<void>((res) => bus.once('connect', () => res())), 'D-Bus client connect');
    return new BusClient(bus, opts.record ?? true);
  }

  /** This connection's unique name. */
  get name(): string {
    return (this.bus as unknown as { name: string }).name;
  }

  /** Call on every signal; returns the function that removes the listener. */
  onSignal(fn: (m: Message) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Signals received so far with this member (and path, if given). */
  received(member: string, path?: string): Message[] {
    return this.signals.filter((s) => s.member === member && (path === undefined || s.path === path));
  }

  call(
    dest: string,
    path: string,
    member: string,
    signature = '',
    body: unknown[] = [],
    iface = IFACE,
    timeoutMs = WAIT_MS,
  ): Promise<Message> {
    return bounded(
      this.bus.call(new Message({ destination: dest, path, interface: iface, member, signature, body })).then((r) => r!),
      `${member} ${path} on ${dest}`,
      timeoutMs,
    );
  }

  /** A call to the bus daemon itself. */
  daemon(member: string, signature = '', body: unknown[] = []): Promise<Message> {
    return this.call('org.freedesktop.DBus', '/org/freedesktop/DBus', member, signature, body, 'org.freedesktop.DBus');
  }

  addMatch(rule: string): Promise<Message> {
    return this.daemon('AddMatch', 's', [rule]);
  }

  removeMatch(rule: string): Promise<Message> {
    return this.daemon('RemoveMatch', 's', [rule]);
  }

  /** The unique name owning `name`, or undefined when nobody does. */
  async nameOwner(name: string): Promise<string | undefined> {
    try {
      return (await this.daemon('GetNameOwner', 's', [name])).body[0] as string;
    } catch {
      return undefined;
    }
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

  /** A path's value (null when invalid). */
  async value(service: string, path: string): Promise<unknown> {
    return valueOf((await this.call(service, path, 'GetValue')).body[0] as Variant);
  }

  /** Every item of a service, read with GetItems. */
  async items(service: string): Promise<Record<string, Item>> {
    const reply = await this.call(service, '/', 'GetItems');
    const out: Record<string, Item> = {};
    for (const [path, v] of Object.entries(reply.body[0] as ItemsChanged)) {
      out[path] = { value: valueOf(v.Value), type: v.Value.signature, text: v.Text.value as string };
    }
    return out;
  }

  /** One item, read with GetValue and GetText. */
  async item(service: string, path: string): Promise<Item> {
    const [value, text] = await Promise.all([this.call(service, path, 'GetValue'), this.call(service, path, 'GetText')]);
    const v = value.body[0] as Variant;
    return { value: valueOf(v), type: v.signature, text: text.body[0] as string };
  }

  /** Poll (bounded) until `cond` holds for the service's items; resolves with them. */
  async until(
    service: string,
    cond: (items: Record<string, Item>) => boolean,
    what: string,
    timeoutMs = 8000,
  ): Promise<Record<string, Item>> {
    const end = Date.now() + timeoutMs;
    let last: Record<string, Item> | undefined;
    let error = '';
    for (;;) {
      try {
        last = await this.items(service);
        if (cond(last)) return last;
      } catch (err) {
        error = (err as Error).message;
      }
      if (Date.now() > end)
        throw new Error(
          `timed out waiting for ${what} on ${service}${error ? `: ${error}` : ''}\n/Connected=${JSON.stringify(last?.['/Connected'])}`,
        );
      await sleep(30);
    }
  }

  /**
   * Poll (bounded) until `cond(value of path)` holds, one GetValue at a time (cheap enough for
   * the benchmark's measurements). Resolves with the time it was seen (performance.now()).
   */
  async untilValue(
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

/** Victron's invalid value is an empty array ('ai'); the tests see it as null. */
const valueOf = (v: Variant): unknown => (v.signature === 'ai' ? null : v.value);
