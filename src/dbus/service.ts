/**
 * A com.victronenergy BusItem service on its own bus connection (velib's VeDbusService, in the
 * order velib's register() enforces): validate the items, connect, export every object, and only
 * then request the name with DO_NOT_QUEUE (contract §2.2, §7.6-7.7).
 */
import { INVALID_TEXT, type Frame, type ItemState, type PathValue } from '../venus/types.js';
import { busDaemonCall, connectBus, resolveBusAddress, type BusConnection } from './connection.js';
import { createMethodHandler, type DispatchTarget } from './dispatch.js';
import { encodeItemEntry, writeItemProps, writeItemsDict } from './encode.js';
import { NameTakenError } from './errors.js';
import { buildItemTree, type Item, type ItemTree } from './items.js';
import { MessageSender } from './sender.js';
import type { BusItemService, ServiceOptions, Signalling } from './types.js';
import { coerceValue, sanitizeText, valueFromSetValue } from './values.js';
import { WireWriter } from './wire.js';

const DO_NOT_QUEUE = 0x4;
const PRIMARY_OWNER = 1;
const EXISTS = 3;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Start a service: export all objects, then claim the name. Rejects with ServiceConfigError
 * (before connecting) for a bad item list, NameTakenError if the name is owned, or an Error
 * naming the address when the bus cannot be reached.
 */
export async function startService(opts: ServiceOptions): Promise<BusItemService> {
  const tree = buildItemTree(opts.serviceName, opts.items ?? []);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const conn = await connectBus(resolveBusAddress(opts.busAddress), timeoutMs);
  const service = new Service(opts, tree, conn);
  try {
    await claimName(conn, opts.serviceName);
  } catch (e) {
    await service.close();
    throw e;
  }
  service.named = true;
  return service;
}

async function claimName(conn: BusConnection, name: string): Promise<void> {
  let code: unknown;
  try {
    code = (await conn.call(busDaemonCall('RequestName', 'su', [name, DO_NOT_QUEUE]))).body[0];
  } catch (e) {
    throw new Error(`cannot claim D-Bus name ${name}: ${(e as { text?: string }).text ?? (e as Error).message}`, { cause: e });
  }
  if (code === PRIMARY_OWNER) return;
  if (code === EXISTS) {
    const owner = await conn
      .call(busDaemonCall('GetNameOwner', 's', [name]))
      .then((r) => r.body[0] as string)
      .catch(() => undefined);
    throw new NameTakenError(name, owner);
  }
  throw new Error(`cannot claim D-Bus name ${name}: RequestName answered ${String(code)}`);
}

class Service implements BusItemService, DispatchTarget {
  readonly serviceName: string;
  readonly uniqueName: string;
  readonly sender: MessageSender;
  /** Set once RequestName succeeded, so close() knows to release it. */
  named = false;
  private readonly scratch = new WireWriter(512);
  private readonly handler: ReturnType<typeof createMethodHandler>;
  private batch = 0;
  /** Changes applied `later`: they go out with the next ItemsChanged. */
  private readonly held = new Set<Item>();
  private dead = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly opts: ServiceOptions,
    readonly tree: ItemTree,
    private readonly conn: BusConnection,
  ) {
    this.serviceName = opts.serviceName;
    this.uniqueName = conn.uniqueName;
    this.sender = new MessageSender(conn);
    conn.onLost((error) => {
      this.dead = true;
      opts.onError?.(error);
    });
    // Exporting is local: from here on every object answers, before the name is requested.
    this.handler = createMethodHandler(this);
    conn.bus.addMethodHandler(this.handler);
  }

  /**
   * Set items; one ItemsChanged carries what changed. `later` holds the changes back (values a
   * client reads are current, but no signal goes out): they go with the next signal, which
   * `changes` sends when it changes anything and `all` sends in any case.
   */
  apply(changes: Iterable<[string, ItemState]> | Frame, signalling: Signalling = 'changes'): number {
    if (this.dead) return 0;
    const batch = ++this.batch;
    const changed: Item[] = [];
    for (const [path, state] of changes) {
      const item = this.tree.items.get(path);
      if (!item) continue;
      const value = coerceValue(state?.value, item.type);
      let text = INVALID_TEXT;
      if (value !== null) {
        text = sanitizeText(typeof state.text === 'string' ? state.text : formatSafe(item, value));
      }
      if (value === item.value && text === item.text) continue;
      item.value = value;
      item.text = text;
      item.entry = null;
      if (item.mark !== batch) {
        item.mark = batch;
        changed.push(item);
      }
    }
    if (signalling === 'later') {
      for (const item of changed) this.held.add(item);
      return changed.length;
    }
    if (changed.length || (signalling === 'all' && this.held.size)) {
      for (const item of this.held) if (item.mark !== batch) changed.push(item);
      this.held.clear();
      this.emit(changed);
    }
    return changed.length;
  }

  get(path: string): ItemState | undefined {
    const item = this.tree.items.get(path);
    return item && { value: item.value, text: item.text };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const lost = this.dead;
    this.dead = true;
    if (this.named && !lost) {
      // Release explicitly so consumers see the name go before the unique name does.
      await this.conn.call(busDaemonCall('ReleaseName', 's', [this.serviceName])).catch(() => undefined);
    }
    this.conn.bus.removeMethodHandler(this.handler);
    await this.conn.close();
  }

  entryOf(item: Item): Buffer {
    return (item.entry ??= encodeItemEntry(this.scratch, item.path, item));
  }

  setValue(item: Item, signature: string, raw: unknown, sender: string): number | Promise<number> {
    if (!item.writable) return 1;
    const accepted = valueFromSetValue(signature, raw, item.type);
    if (!accepted) return 1;
    const value = accepted.value;
    if (value === item.value) return 0;
    let verdict: ReturnType<NonNullable<ServiceOptions['onSetValue']>>;
    try {
      verdict = this.opts.onSetValue?.(item.path, value, sender);
    } catch {
      return 2;
    }
    if (verdict instanceof Promise)
      return verdict.then(
        (v) => (v === false ? 2 : this.store(item, value)),
        () => 2,
      );
    return verdict === false ? 2 : this.store(item, value);
  }

  private store(item: Item, value: PathValue): number {
    item.value = value;
    item.text = value === null ? INVALID_TEXT : sanitizeText(formatSafe(item, value));
    item.entry = null;
    if (!this.dead) this.emit([item]);
    return 0;
  }

  /** One ItemsChanged on '/' for the batch; per-path PropertiesChanged too when configured. */
  private emit(changed: readonly Item[]): void {
    const send = () => {
      this.sender.signal('/', 'ItemsChanged', 'a{sa{sv}}', (w) => {
        writeItemsDict(
          w,
          changed.map((item) => this.entryOf(item)),
        );
      });
      if (!this.opts.propertiesChanged) return;
      for (const item of changed) {
        this.sender.signal(item.path, 'PropertiesChanged', 'a{sv}', (w) => writeItemProps(w, item));
      }
    };
    if (this.opts.propertiesChanged && changed.length) this.conn.together(send);
    else send();
  }
}

/** A throwing user format must not take the service down; fall back to velib's str(). */
function formatSafe(item: Item, value: Exclude<PathValue, null>): string {
  try {
    return String(item.format(value));
  } catch {
    return String(value);
  }
}
