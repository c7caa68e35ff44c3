/**
 * Fake parts for the Battery conductor: a sink that keeps the D-Bus state a client would see, a
 * message source the test feeds, and a clock the test moves. No timers, no bus, no broker.
 */
import type { BatteryConfig } from '../../src/config/index.js';
import { Battery, type BatterySink, type Message, type SinkEvents } from '../../src/battery/index.js';
import type { Signalling } from '../../src/dbus/index.js';
import { Logger } from '../../src/log.js';
import { defaultMappingFile, loadMapping, parseMapping, type CompiledMapping } from '../../src/mapping/index.js';
import type { Frame, ItemState, PathValue } from '../../src/venus/types.js';

/** The MQTT side of write-back: records what was published; the test connects and breaks it. */
export class FakeChannel {
  isConnected = true;
  /** When set, publish rejects with this (a broker that does not take the message). */
  failWith?: string;
  readonly published: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
  async publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean }): Promise<void> {
    if (this.failWith) throw new Error(this.failWith);
    this.published.push({ topic, payload, ...opts });
  }
}

export class FakeSink implements BatterySink {
  readonly state = new Map<string, ItemState>();
  readonly frames: Frame[] = [];
  /** The ItemsChanged signals a client would have seen: the paths of each, as the D-Bus service sends them. */
  readonly signals: string[][] = [];
  private readonly held = new Set<string>();
  events?: SinkEvents;
  opened = 0;
  async open(): Promise<void> {
    this.opened++;
    for (const item of await this.events!.items()) this.state.set(item.path, { value: item.value, text: item.text ?? '---' });
  }
  apply(frame: Frame, signalling: Signalling = 'changes'): void {
    this.frames.push(new Map(frame));
    const changed: string[] = [];
    for (const [path, s] of frame) {
      const was = this.state.get(path);
      if (was && was.value === (s.value ?? null) && (was.text === s.text || s.value === null)) continue;
      this.state.set(path, s);
      changed.push(path);
    }
    if (signalling === 'later') {
      for (const path of changed) this.held.add(path);
    } else if (changed.length || (signalling === 'all' && this.held.size)) {
      this.signals.push([...new Set([...changed, ...this.held])]);
      this.held.clear();
    }
  }
  async close(): Promise<void> {}
  value(path: string): unknown {
    return this.state.get(path)?.value;
  }
}

export interface Rig {
  battery: Battery;
  sink: FakeSink;
  lines: string[];
  /** Current fake time in ms. */
  t: number;
  /** Deliver messages (one batch) and wait until they are handled. */
  send(...messages: (Omit<Partial<Message>, 'payload'> & { payload: string | object })[]): Promise<void>;
  /** Move the clock to `ms` in 1 s ticks, as the real timer would. */
  advanceTo(ms: number): Promise<void>;
  value(path: string): unknown;
  /**
   * A remote SetValue as the D-Bus service hands it on (type already checked): true when accepted,
   * and then the value is stored as the service stores it.
   */
  setValue(path: string, value: PathValue, sender?: string): Promise<boolean>;
}

export interface RigOptions {
  mapping?: CompiledMapping | string;
  sources?: BatteryConfig['sources'];
  timeout?: number;
  retainedIsFresh?: boolean;
  topic?: string;
  /** Where commands go; without one the source cannot publish. */
  channel?: FakeChannel;
  minPacksOnline?: number;
}

export async function rig(opts: RigOptions = {}): Promise<Rig> {
  const mapping = typeof opts.mapping === 'string' ? parseMapping(opts.mapping) : (opts.mapping ?? loadMapping(defaultMappingFile()));
  const topic = opts.topic ?? 'bms';
  const timeout = opts.timeout ?? 60;
  const config: BatteryConfig = {
    name: 'test',
    sources: opts.sources ?? [{ topic, timeout, required: true }],
    mappingFile: mapping.file,
    variables: {},
    instance: 100,
    serviceName: 'com.victronenergy.battery.test',
    productName: 'vbat test',
    customName: '',
    productId: 0xffff,
    timeout,
    retainedIsFresh: opts.retainedIsFresh ?? false,
    ...(opts.minPacksOnline !== undefined ? { minPacksOnline: opts.minPacksOnline } : {}),
  };
  const sink = new FakeSink();
  const lines: string[] = [];
  let onMessage: ((m: Message) => void) | undefined;
  const r = {} as Rig;
  r.t = 0;
  r.lines = lines;
  r.sink = sink;
  const battery = new Battery({
    config,
    mapping,
    maxPayloadBytes: 256 * 1024,
    log: new Logger('debug', { write: (l) => lines.push(l) }, 60_000, '', () => r.t),
    now: () => r.t,
    every: () => () => undefined,
    openSource: (_topics, deliver) => {
      onMessage = deliver;
      const ch = opts.channel;
      if (!ch) return { start: () => undefined, stop: async () => undefined };
      return {
        start: () => undefined,
        stop: async () => undefined,
        get isConnected() {
          return ch.isConnected;
        },
        publish: (topic: string, payload: string, o: { qos: 0 | 1 | 2; retain: boolean }) => ch.publish(topic, payload, o),
      };
    },
    openSink: (events) => {
      sink.events = events;
      return sink;
    },
  });
  r.battery = battery;
  r.send = async (...messages) => {
    for (const m of messages) {
      const payload = typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload);
      onMessage!({ topic: m.topic ?? topic, payload: Buffer.from(payload), retained: m.retained ?? false });
    }
    await battery.settled();
  };
  r.advanceTo = async (ms: number) => {
    while (r.t + 1000 <= ms) {
      r.t += 1000;
      await battery.tick();
    }
    r.t = ms;
  };
  r.value = (path) => sink.value(path);
  r.setValue = async (path, value, sender = ':1.99') => {
    const ok = await sink.events!.onSetValue(path, value, sender);
    if (ok) sink.state.set(path, { value, text: value === null ? '---' : String(value) });
    return ok;
  };
  await battery.start();
  return r;
}
