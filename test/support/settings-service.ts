/**
 * A stand-in for Venus OS's localsettings (com.victronenergy.settings) on a private test bus,
 * following the contract (venus-dbus-api.md section 5): AddSettings(aa{sv}) → aa{sv} on '/',
 * interface com.victronenergy.Settings, creating absent settings from their default and returning
 * {path, error, value}; ClassAndVrmInstance values are bumped until "class:instance" is unused by
 * any other ClassAndVrmInstance setting; each setting answers BusItem GetValue/SetValue and emits
 * PropertiesChanged when it changes.
 */
import { Message, MessageType, Variant, sessionBus, type MessageBus } from 'dbus-next';
import { bounded } from './wait.js';

export interface FakeSettings {
  readonly values: Map<string, string | number>;
  readonly calls: string[];
  stop(): Promise<void>;
}

export async function startSettingsService(address: string, initial: Record<string, string | number> = {}): Promise<FakeSettings> {
  const bus: MessageBus = sessionBus({ busAddress: address });
  bus.on('error', () => undefined);
  await bounded(new Promise<void>((resolve) => bus.once('connect', () => resolve())), 'settings service connect');
  const values = new Map<string, string | number>(Object.entries(initial));
  const calls: string[] = [];
  const variant = (v: string | number) =>
    typeof v === 'string' ? new Variant('s', v) : Number.isInteger(v) ? new Variant('i', v) : new Variant('d', v);

  const freeInstance = (path: string, wanted: string): string => {
    const [cls, n] = wanted.split(':');
    let instance = Number(n);
    const taken = () => [...values].some(([p, v]) => p !== path && p.endsWith('/ClassAndVrmInstance') && v === `${cls}:${instance}`);
    while (taken()) instance++;
    return `${cls}:${instance}`;
  };

  bus.addMethodHandler((msg: Message) => {
    if (msg.type !== MessageType.METHOD_CALL) return false;
    calls.push(`${msg.path} ${msg.member}`);
    if (msg.path === '/' && msg.interface === 'com.victronenergy.Settings' && msg.member === 'AddSettings') {
      const out = (msg.body[0] as Record<string, Variant>[]).map((item) => {
        const path = String(item.path!.value);
        if (!path.startsWith('/Settings/')) return { path: new Variant('s', path), error: new Variant('i', -2) };
        if (!values.has(path)) {
          const def = item.default!.value as string | number;
          values.set(path, path.endsWith('/ClassAndVrmInstance') ? freeInstance(path, String(def)) : def);
        }
        return { path: new Variant('s', path), error: new Variant('i', 0), value: variant(values.get(path)!) };
      });
      bus.send(Message.newMethodReturn(msg, 'aa{sv}', [out]));
      return true;
    }
    if (msg.interface === 'com.victronenergy.BusItem' && values.has(msg.path)) {
      if (msg.member === 'GetValue') {
        bus.send(Message.newMethodReturn(msg, 'v', [variant(values.get(msg.path)!)]));
        return true;
      }
      if (msg.member === 'SetValue') {
        let v = (msg.body[0] as Variant).value as string | number;
        if (msg.path.endsWith('/ClassAndVrmInstance')) v = freeInstance(msg.path, String(v));
        values.set(msg.path, v);
        bus.send(Message.newMethodReturn(msg, 'i', [0]));
        bus.send(
          Message.newSignal(msg.path, 'com.victronenergy.BusItem', 'PropertiesChanged', 'a{sv}', [
            { Value: variant(v), Text: new Variant('s', String(v)) },
          ]),
        );
        return true;
      }
    }
    return false;
  });
  const reply = await bus.requestName('com.victronenergy.settings', 4);
  if (reply !== 1) throw new Error(`settings service: RequestName answered ${reply}`);
  return {
    values,
    calls,
    async stop() {
      bus.disconnect();
    },
  };
}
