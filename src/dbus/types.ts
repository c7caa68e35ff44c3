/**
 * The public shapes of the D-Bus service layer. The implementation is in service.ts; this file
 * only says what a caller (`vbat run`) gives and gets.
 */
import type { DbusType, Frame, ItemState, PathValue } from '../venus/types.js';

/** One exported path. */
export interface ItemDefinition {
  /** Object path, e.g. '/Dc/0/Voltage'. Elements are [A-Za-z0-9_]+. */
  path: string;
  /** D-Bus type, fixed for the life of the service. */
  type: DbusType;
  /** Initial value; null = invalid. Must fit `type` (start-up fails otherwise). */
  value: PathValue;
  /** Initial text; default `format(value)`, or '---' when invalid. */
  text?: string;
  /** Whether remote SetValue may change it; default false. /CustomName should be writable. */
  writable?: boolean;
  /** Returned by GetDescription; default 'No description given' (as velib). */
  description?: string;
  /**
   * Text for values accepted through SetValue. Default String(value); for /ProductId the
   * velib hex form `0xFFFF`. (Values from apply() bring their own text.)
   */
  format?: (value: Exclude<PathValue, null>) => string;
}

export interface ServiceOptions {
  /** Well-known name, e.g. 'com.victronenergy.battery.mybat'. */
  serviceName: string;
  /**
   * D-Bus address, e.g. 'unix:path=/run/dbus/system_bus_socket'. Default: the
   * DBUS_SYSTEM_BUS_ADDRESS environment variable, else the system bus socket.
   */
  busAddress?: string;
  /** Mandatory + data paths. */
  items: ItemDefinition[];
  /** Also emit per-path PropertiesChanged (legacy consumers); default false. */
  propertiesChanged?: boolean;
  /**
   * Called for a remote SetValue on a writable path whose value fits the path's type and differs
   * from the current one. Return false to refuse (reply 2); anything else stores the value,
   * signals it and replies 0. A throw counts as a refusal. `sender` is the caller's unique bus
   * name (':1.42'). A returned Promise is awaited before the reply (a command sent to a BMS is
   * accepted only once it is on its way); it resolving to false, or rejecting, is a refusal.
   */
  onSetValue?: (path: string, value: PathValue, sender: string) => boolean | void | Promise<boolean | void>;
  /**
   * Called once when the bus connection fails or closes after start-up without close() being
   * called (e.g. dbus-daemon restarted). The service is dead afterwards; the caller should close()
   * it and start a new one.
   */
  onError?: (error: Error) => void;
  /** Upper bound for connecting, RequestName and ReleaseName, in ms; default 10000. */
  timeoutMs?: number;
}

export interface BusItemService {
  readonly serviceName: string;
  /** The connection's unique name (':1.42'), which consumers key services by. */
  readonly uniqueName: string;
  /**
   * Coerce each value to its path's type, store, and emit ONE ItemsChanged on '/' carrying the
   * paths whose value or text really changed (plus PropertiesChanged per path if enabled).
   * Returns how many paths changed. Paths not in the item list are ignored (the mapping is
   * checked against the item list before start-up, so an unknown path here is not worth a
   * crash). After close() or a lost connection, nothing is sent and 0 is returned.
   */
  apply(changes: Iterable<[string, ItemState]> | Frame, signalling?: Signalling): number;
  /** Current state of a path, or undefined if not exported. */
  get(path: string): ItemState | undefined;
  /** Release the name and disconnect. Idempotent. */
  close(): Promise<void>;
}

/**
 * When an apply() is signalled: `changes` with its own ItemsChanged if it changed anything;
 * `later` with the next signal (clients reading values see them at once); `all` now, with
 * everything held back, even if it changed nothing itself.
 */
export type Signalling = 'changes' | 'later' | 'all';
