/**
 * A read-only client of one com.victronenergy BusItem service, as Venus's own consumers see it
 * (contract §4.1): subscribe first (ItemsChanged on '/', per-path PropertiesChanged, the name's
 * NameOwnerChanged), then GetNameOwner + GetItems, then apply the signals of the owner's unique
 * name only. It never calls SetValue. Uses dbus-next's low-level message API, so it sees exactly
 * what is on the wire.
 */
import { Message, MessageType, type Variant } from 'dbus-next';
import { BUSITEM_INTERFACE, busDaemonCall, connectBus, type BusConnection } from '../dbus/index.js';

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
  private loading?: Promise<void>;

  private constructor(
    private readonly conn: BusConnection,
    readonly address: string,
  ) {
    conn.bus.on('message', (m: Message) => {
      if (m.type === MessageType.SIGNAL) this.onSignal(m);
    });
  }

  /** Connect to the bus at `address`, or fail within timeoutMs with a plain message. */
  static async connect(address: string, timeoutMs = CALL_TIMEOUT_MS): Promise<BusWatcher> {
    return new BusWatcher(await connectBus(address, timeoutMs), address);
  }

  /** Called once if the connection fails after connect(). */
  onLost(listener: (err: Error) => void): void {
    this.conn.onLost(listener);
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
  close(): Promise<void> {
    return this.conn.close();
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
      throw new Error(`GetItems on ${this.service} failed: ${(err as { text?: string }).text ?? (err as Error).message}`, { cause: err });
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
    return this.conn.call(busDaemonCall(member, signature, body));
  }

  /** A method call, bounded by the connection's timeout. */
  private call(destination: string, path: string, iface: string, member: string): Promise<Message> {
    return this.conn.call(new Message({ destination, path, interface: iface, member }));
  }
}

/** Victron's invalid: an empty array (velib sends `ai`; any empty array counts). */
function isInvalid(v: Variant): boolean {
  return v.signature.startsWith('a') && Array.isArray(v.value) && v.value.length === 0;
}
