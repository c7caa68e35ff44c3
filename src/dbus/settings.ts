/**
 * Client of Venus OS's settings service (com.victronenergy.settings, localsettings): how current
 * drivers get their VRM instance and keep user settings across restarts (contract section 5).
 * `AddSettings` on `/` (interface com.victronenergy.Settings, aa{sv} → aa{sv}) creates a setting
 * if absent and returns its value; for ClassAndVrmInstance localsettings bumps the instance until
 * the "class:instance" string is unused by other devices.
 */
import { Message, Variant } from 'dbus-next';
import { connectBus, resolveBusAddress, type BusConnection } from './connection.js';
import { BUSITEM_INTERFACE } from './introspect.js';

const SETTINGS_SERVICE = 'com.victronenergy.settings';
const SETTINGS_INTERFACE = 'com.victronenergy.Settings';

export interface SettingResult {
  path: string;
  /** 0 ok; localsettings' AddSettingError codes otherwise. */
  error: number;
  value: unknown;
}

export class SettingsClient {
  private constructor(private readonly conn: BusConnection) {}

  /** Connect to the bus; the settings service itself may or may not be there. */
  static async connect(busAddress?: string, timeoutMs = 5000): Promise<SettingsClient> {
    return new SettingsClient(await connectBus(resolveBusAddress(busAddress), timeoutMs));
  }

  /** True when com.victronenergy.settings has an owner on the bus. */
  async available(): Promise<boolean> {
    const reply = await this.conn.call(
      new Message({
        destination: 'org.freedesktop.DBus',
        path: '/org/freedesktop/DBus',
        interface: 'org.freedesktop.DBus',
        member: 'NameHasOwner',
        signature: 's',
        body: [SETTINGS_SERVICE],
      }),
    );
    return reply.body[0] === true;
  }

  /** Create settings that do not exist yet (with their defaults) and return current values. */
  async addSettings(items: { path: string; default: string | number }[]): Promise<SettingResult[]> {
    const body = [
      items.map((i) => ({
        path: new Variant('s', i.path),
        default:
          typeof i.default === 'string'
            ? new Variant('s', i.default)
            : Number.isInteger(i.default)
              ? new Variant('i', i.default)
              : new Variant('d', i.default),
      })),
    ];
    const reply = await this.conn.call(
      new Message({
        destination: SETTINGS_SERVICE,
        path: '/',
        interface: SETTINGS_INTERFACE,
        member: 'AddSettings',
        signature: 'aa{sv}',
        body,
      }),
    );
    const results = reply.body[0] as Record<string, Variant>[];
    return results.map((r) => ({ path: String(r.path?.value ?? ''), error: Number(r.error?.value ?? -1), value: unwrap(r.value) }));
  }

  /** SetValue on a setting; returns the BusItem reply code (0 = accepted). */
  async setValue(path: string, value: string | number): Promise<number> {
    const v =
      typeof value === 'string' ? new Variant('s', value) : Number.isInteger(value) ? new Variant('i', value) : new Variant('d', value);
    const reply = await this.conn.call(
      new Message({ destination: SETTINGS_SERVICE, path, interface: BUSITEM_INTERFACE, member: 'SetValue', signature: 'v', body: [v] }),
    );
    return Number(reply.body[0]);
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

function unwrap(v: Variant | undefined): unknown {
  if (!v) return undefined;
  if (v.signature === 'ai' && Array.isArray(v.value) && v.value.length === 0) return null;
  return typeof v.value === 'bigint' ? Number(v.value) : v.value;
}

/** "battery:7" → 7; undefined for anything else. */
export function parseClassAndVrmInstance(value: unknown, deviceClass = 'battery'): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^([a-z-]+):(\d+)$/.exec(value);
  return m && m[1] === deviceClass ? Number(m[2]) : undefined;
}
