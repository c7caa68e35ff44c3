/**
 * A read-only client of one com.victronenergy BusItem service, as Venus's own consumers see it
 * (contract §4.1): subscribe first (ItemsChanged on '/', per-path PropertiesChanged, the name's
 * NameOwnerChanged), then GetNameOwner + GetItems, then apply the signals of the owner's unique
 * name only. It never calls SetValue. Uses dbus-next's low-level message API, so it sees exactly
 * what is on the wire.
 */
import { Message, MessageType, sessionBus, type MessageBus, type Variant } from 'dbus-next';

export const BUSITEM_INTERFACE = 'com.victronenergy.BusItem';
export const BATTERY_PREFIX = 'com.victronenergy.battery.';
const DBUS = 'org.freedesktop.DBus';
const CALL_TIMEOUT_MS = 5000;

/** One path as the service exports it. */
export interface WatchedItem {
  /** The unwrapped value: number, string, bigint (x/t), an array…; null when invalid. */
  value: unknown;
  /** The D-Bus signature of the value's variant; `ai` (an empty array) means invalid. */
  type: string;
  text: string;
}

export interface Snapshot {
  service: string;
  /** The unique name owning the service; undefined while it is not on the bus. */
  owner?: string;
  items: Map<string, WatchedItem>;
  /** How many changes (GetItems, ItemsChanged entries, PropertiesChanged) were applied. */
  updates: number;
  /** When the last change arrived (ms since the epoch). */
  lastChange?: number;
}

export class BusWatcher {
  private service?: string;
  private owner?: string;
  private readonly items = new Map<string, WatchedItem>();
  private updates = 0;
  private lastChange?: number;
  /** Signals received while a GetItems is in flight: replayed after its reply. */
  private queued?: Message[];
  private listener?: () => void;
  private lostListener?: (err: Error) => void;
  private closed = false;
  private loading?: Promise<void>;

  private constructor(
    private readonly bus: MessageBus,
    readonly address: string,
  ) {
    bus.on('message', (m: Message) => {
      if (m.type === MessageType.SIGNAL) this.onSignal(m);
    });
  }

  /** Connect to the bus at `address`, or fail within timeoutMs with a plain message. */
  static async connect(address: string, timeoutMs = CALL_TIMEOUT_MS): Promise<BusWatcher> {
    let bus: MessageBus;
    try {
      bus = sessionBus({ busAddress: address });
    } catch (err) {
      throw new Error(`cannot connect to D-Bus at ${address}: ${(err as Error).message}`);
    }
    let watcher: BusWatcher | undefined;
    // One listener stays for good: an 'error' without a listener would throw.
    bus.on('error', (err: unknown) => {
      if (watcher && !watcher.closed) watcher.lostListener?.(err instanceof Error ? err : new Error(String(err)));
    });
    try {
      await bounded(
        new Promise<void>((resolve, reject) => {
          bus.once('connect', () => resolve());
          bus.once('error', (err: unknown) => reject(err));
        }),
        timeoutMs,
        'connecting',
      );
    } catch (err) {
      bus.disconnect();
      throw new Error(`cannot connect to D-Bus at ${address}: ${(err as Error).message ?? String(err)}`);
    }
    watcher = new BusWatcher(bus, address);
    return watcher;
  }

  /** Called once if the connection fails after connect(). */
  onLost(listener: (err: Error) => void): void {
    this.lostListener = listener;
  }

  /** Names on the bus starting with `prefix` (default: battery services), sorted. */
  async listServices(prefix = BATTERY_PREFIX): Promise<string[]> {
    const reply = await this.daemon('ListNames');
    return (reply.body[0] as string[]).filter((n) => n.startsWith(prefix)).sort();
  }

  /**
   * Watch `service`: subscribe, then load its items if it is on the bus. When it is not, the
   * snapshot has no owner and the items load as soon as the name appears. `onChange` is called
   * after every applied change.
   */
  async watch(service: string, onChange?: () => void): Promise<void> {
    if (this.service) throw new Error('a BusWatcher watches one service');
    this.service = service;
    this.listener = onChange;
    // sender= a well-known name matches whoever owns it when the signal is sent, so a busy GX
    // bus only sends us this service's signals (the owner check below stays as the real filter).
    await Promise.all([
      this.daemon('AddMatch', 's', [`type='signal',sender='${service}',interface='${BUSITEM_INTERFACE}',member='ItemsChanged',path='/'`]),
      this.daemon('AddMatch', 's', [`type='signal',sender='${service}',interface='${BUSITEM_INTERFACE}',member='PropertiesChanged'`]),
      this.daemon('AddMatch', 's', [`type='signal',sender='${DBUS}',interface='${DBUS}',member='NameOwnerChanged',arg0='${service}'`]),
    ]);
    const owner = await this.daemon('GetNameOwner', 's', [service]).then(
      (r) => r.body[0] as string,
      () => undefined, // NameHasNoOwner: not there (yet)
    );
    if (owner) await this.load(owner);
  }

  /** The current state (the live map; do not modify). */
  get snapshot(): Snapshot {
    return { service: this.service ?? '', owner: this.owner, items: this.items, updates: this.updates, lastChange: this.lastChange };
  }

  /** Wait until a load in progress (after the name appeared) has finished. */
  async settled(): Promise<void> {
    await this.loading;
  }

  /** Disconnect (bounded). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = (this.bus as unknown as { _connection?: { stream?: { destroyed?: boolean; once(e: 'close', l: () => void): void; destroy(): void } } })._connection?.stream;
    const closed = stream && !stream.destroyed ? new Promise<void>((resolve) => stream.once('close', resolve)) : Promise.resolve();
    this.bus.disconnect();
    await bounded(closed, 1000, 'disconnecting').catch(() => stream?.destroy());
  }

  private load(owner: string): Promise<void> {
    this.loading = this.getItems(owner);
    return this.loading;
  }

  private async getItems(owner: string): Promise<void> {
    this.owner = owner;
    this.queued = [];
    let reply: Message;
    try {
      reply = await this.call(owner, '/', BUSITEM_INTERFACE, 'GetItems');
    } catch (err) {
      this.queued = undefined;
      if (this.owner !== owner) return; // went away meanwhile
      throw new Error(`GetItems on ${this.service} failed: ${(err as { text?: string }).text ?? (err as Error).message}`);
    }
    const queued = this.queued;
    this.queued = undefined;
    if (this.owner !== owner) return;
    this.items.clear();
    for (const [path, props] of Object.entries(reply.body[0] as Record<string, Record<string, Variant>>)) this.set(path, props);
    this.changed();
    // Signals that crossed the GetItems call: applying them again in order leaves the latest.
    for (const m of queued) this.onSignal(m);
  }

  private onSignal(m: Message): void {
    if (m.interface === DBUS && m.member === 'NameOwnerChanged') return this.onOwnerChanged(m);
    if (m.interface !== BUSITEM_INTERFACE || !this.owner || m.sender !== this.owner) return;
    if (this.queued) {
      if (this.queued.length < 10_000) this.queued.push(m);
      return;
    }
    if (m.member === 'ItemsChanged' && m.path === '/') {
      for (const [path, props] of Object.entries(m.body[0] as Record<string, Record<string, Variant>>)) this.set(path, props);
      this.changed();
    } else if (m.member === 'PropertiesChanged' && m.signature === 'a{sv}') {
      this.set(m.path, m.body[0] as Record<string, Variant>);
      this.changed();
    }
  }

  private onOwnerChanged(m: Message): void {
    const [name, , newOwner] = m.body as [string, string, string];
    if (name !== this.service || m.sender !== DBUS) return;
    if (!newOwner) {
      this.owner = undefined;
      this.queued = undefined;
      this.changed();
      return;
    }
    void this.load(newOwner).catch(() => undefined); // shown as "no items" in the view
  }

  /** Merge one path's properties (Value and/or Text; others like Min/Max are ignored). */
  private set(path: string, props: Record<string, Variant>): void {
    const prev = this.items.get(path);
    const item: WatchedItem = prev ? { ...prev } : { value: null, type: 'ai', text: '---' };
    if (props['Value']) {
      const v = props['Value'];
      item.type = v.signature;
      item.value = isInvalid(v) ? null : v.value;
      if (!props['Text']) item.text = item.value === null ? '---' : String(item.value);
    }
    if (props['Text'] && typeof props['Text'].value === 'string') item.text = props['Text'].value;
    this.items.set(path, item);
    this.updates++;
  }

  private changed(): void {
    this.lastChange = Date.now();
    this.listener?.();
  }

  private daemon(member: string, signature = '', body: unknown[] = []): Promise<Message> {
    return this.call(DBUS, '/org/freedesktop/DBus', DBUS, member, signature, body);
  }

  private call(destination: string, path: string, iface: string, member: string, signature = '', body: unknown[] = []): Promise<Message> {
    const msg = new Message({ destination, path, interface: iface, member, signature, body });
    return bounded(
      this.bus.call(msg).then((r) => r as Message),
      CALL_TIMEOUT_MS,
      `${member} on ${destination}`,
    );
  }
}

/** Victron's invalid: an empty array (velib sends `ai`; any empty array counts). */
function isInvalid(v: Variant): boolean {
  return v.signature.startsWith('a') && Array.isArray(v.value) && v.value.length === 0;
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
