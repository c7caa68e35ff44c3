/**
 * One battery at run time: MQTT messages → input document → mapping → D-Bus service, with the
 * safety rules in between. Stale data never stays on the bus: when a required source is silent
 * for its timeout, /Connected goes to 0 and every data path (the charge limits DVCC reads above
 * all) goes invalid, in one ItemsChanged. The service stays registered and recovers on the next
 * fresh message.
 */
import type { BatteryConfig, MqttConfig } from '../config/index.js';
import { parseClassAndVrmInstance, startService, type BusItemService, type SettingsClient } from '../dbus/index.js';
import { DocumentBuilder } from '../input/index.js';
import type { Logger } from '../log.js';
import { Evaluator, frameOf, type CompiledMapping, type Evaluation } from '../mapping/index.js';
import { MqttSource, type MqttMessage } from '../mqtt/client.js';
import type { Frame, PathValue } from '../venus/types.js';
import { INVALID_TEXT } from '../venus/types.js';
import { Freshness } from './freshness.js';
import { itemDefinitions, serviceDocument, serviceEvaluator, serviceMapping, type Diagnostics, type Identity } from './identity.js';

export interface BatteryOptions {
  config: BatteryConfig;
  mapping: CompiledMapping;
  mqtt: MqttConfig & { url: string };
  clientId: string;
  busAddress?: string;
  propertiesChanged: boolean;
  maxPayloadBytes: number;
  log: Logger;
  /** Venus OS's settings service client: VRM instance (ClassAndVrmInstance) and a persisted /CustomName. */
  settings?: SettingsClient;
  now?: () => number;
}

/** At most this many messages wait while one batch is processed; older ones are dropped. */
const MAX_PENDING = 10_000;
const TICK_MS = 1000;
/** Pause between attempts to export the service again after the bus went away. */
const BUS_RETRY_MS = 2000;
/** How often the log gets a one-line summary of the counters (in ticks). */
const SUMMARY_TICKS = 600;

export class Battery {
  private service?: BusItemService;
  private source?: MqttSource;
  private readonly documents: DocumentBuilder;
  private readonly evaluator: Evaluator;
  private readonly serviceEval = serviceEvaluator();
  private readonly freshness: Freshness;
  private readonly diag: Diagnostics = { connected: false, accepted: 0, rejected: 0 };
  private readonly identity: Identity;
  /** Settings paths under /Settings/Devices/<ident>/, when the settings service answered. */
  private settingsBase?: string;
  private lastValid = -Infinity;
  private pending: MqttMessage[] = [];
  private scheduled = false;
  private busy = false;
  private timer?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private ticks = 0;
  private summarized = { accepted: 0, rejected: 0 };
  private readonly now: () => number;
  private readonly log: Logger;
  /** Only the latest message per topic matters when messages replace the document. */
  private readonly latestOnly: boolean;

  constructor(private readonly opts: BatteryOptions) {
    const { config, mapping } = opts;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    const sources = config.sources.length ? config.sources : [{ topic: mapping.input.topic ?? '#', timeout: config.timeout, required: true }];
    this.freshness = new Freshness(sources);
    this.documents = new DocumentBuilder({ input: mapping.input, topics: sources.map((s) => s.topic), maxPayloadBytes: opts.maxPayloadBytes });
    this.evaluator = new Evaluator(mapping, config.variables);
    this.identity = { instance: config.instance, customName: config.customName };
    this.latestOnly = (mapping.input.format ?? 'json') === 'json' && !mapping.input.merge;
  }

  get serviceName(): string {
    return this.opts.config.serviceName;
  }

  get connected(): boolean {
    return this.diag.connected;
  }

  /** The /DeviceInstance in use (from the settings service, else the config). */
  get instance(): number {
    return this.identity.instance;
  }

  /** Export the service (everything invalid, /Connected 0), then subscribe. */
  async start(): Promise<void> {
    await this.claimSettings();
    await this.export();
    this.log.info(`exported ${this.opts.config.serviceName} (instance ${this.identity.instance}, ${this.opts.mapping.paths.length} data paths from ${this.opts.mapping.file}); waiting for data`);
    this.timer = setInterval(() => void this.tick(), TICK_MS);
    this.timer.unref();
    this.source = new MqttSource({
      config: this.opts.mqtt,
      clientId: this.opts.clientId,
      topics: this.freshness.sources.map((s) => s.topic),
      log: this.log,
      onMessage: (m) => this.onMessage(m),
    });
    this.source.start();
  }

  /** Export the D-Bus service with every data path invalid and /Connected 0. */
  private async export(): Promise<void> {
    const service = serviceMapping();
    const ev = await this.serviceEval.evaluate(this.serviceDoc());
    const state = (path: string) => {
      const i = service.byPath.get(path)!.index;
      return { value: ev.values[i]!, text: ev.texts[i]! };
    };
    this.service = await startService({
      serviceName: this.opts.config.serviceName,
      busAddress: this.opts.busAddress,
      items: itemDefinitions(service, state, this.opts.mapping),
      propertiesChanged: this.opts.propertiesChanged,
      onSetValue: (path, value) => this.onSetValue(path, value),
      onError: (err) => this.onBusLost(err),
    });
  }

  /**
   * The bus connection died (dbus-daemon restarted). Keep the process, mark everything stale so
   * the next export starts from invalid values, and export again until the bus is back.
   */
  private onBusLost(err: Error): void {
    this.log.error(`D-Bus connection lost (${err.message}); exporting the service again every ${BUS_RETRY_MS / 1000} s`);
    const dead = this.service;
    this.service = undefined;
    void dead?.close();
    this.diag.connected = false;
    this.evaluator.reset();
    this.retryExport();
  }

  private retryExport(): void {
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.export().then(
        () => this.log.info(`exported ${this.opts.config.serviceName} again; waiting for data`),
        () => this.retryExport(),
      );
    }, BUS_RETRY_MS);
  }

  async stop(): Promise<void> {
    if (this.retry) clearTimeout(this.retry);
    if (this.timer) clearInterval(this.timer);
    await Promise.all([this.source?.stop(), this.service?.close()]);
    this.source = undefined;
    this.service = undefined;
  }

  onMessage(m: MqttMessage): void {
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.log.warnLimited('overload', `overloaded: more than ${MAX_PENDING} messages waiting, dropping the oldest`);
    }
    this.pending.push(m);
    if (!this.scheduled && !this.busy) {
      this.scheduled = true;
      // Messages that arrive in the same socket read are mapped together, once.
      setImmediate(() => void this.drain());
    }
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    this.busy = true;
    try {
      while (this.pending.length) {
        const batch = this.latestOnly ? latestPerTopic(this.pending) : this.pending;
        this.pending = [];
        await this.process(batch);
      }
    } catch (err) {
      this.log.error(`internal error while processing messages: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.busy = false;
    }
  }

  private async process(batch: MqttMessage[]): Promise<void> {
    const now = this.now();
    let fresh = false;
    let accepted = false;
    for (const m of batch) {
      const source = this.freshness.sourceOf(m.topic);
      if (!source) continue;
      const result = this.documents.accept(m.topic, m.payload);
      if (!result.ok) {
        this.reject(`bad message on ${m.topic}: ${result.reason}`, `bad:${m.topic}:${result.kind}`);
        continue;
      }
      accepted = true;
      if (!m.retained || this.opts.config.retainedIsFresh) {
        this.freshness.markFresh(source, now);
        fresh = true;
      }
    }
    if (!accepted) return;
    if (!fresh) {
      this.log.debug(() => 'retained message stored; waiting for live data before publishing');
      return;
    }
    if (!this.freshness.live) return; // another required source is still silent
    const ev = await this.evaluator.evaluate(this.documents.document, now);
    if (ev.missingRequired.length) {
      this.reject(`message dropped: required input missing or invalid for ${ev.missingRequired.join(', ')}`, 'required');
      return;
    }
    this.warnProblems(ev);
    this.diag.accepted++;
    this.lastValid = now;
    const wasConnected = this.diag.connected;
    const frame = frameOf(this.opts.mapping, ev, !wasConnected);
    if (!wasConnected) {
      this.diag.connected = true;
      this.log.info('data is arriving: battery connected');
    }
    await this.publish(frame, !wasConnected);
  }

  private reject(reason: string, key: string): void {
    this.diag.rejected++;
    this.diag.lastProblem = reason;
    this.log.warnLimited(key, reason);
  }

  private warnProblems(ev: Evaluation): void {
    if (!ev.problemCount) return;
    ev.problems.forEach((problem, i) => {
      if (!problem) return;
      const path = this.opts.mapping.paths[i]!.path;
      this.diag.lastProblem = `${path}: ${problem}`;
      this.log.warnLimited(`value:${path}`, `${path} invalid: ${problem}`);
    });
  }

  /**
   * Apply data changes, in one ItemsChanged. The service paths (identity, diagnostics) are
   * re-evaluated only with `withService` (state changes and the 1 s tick), not per message.
   */
  private async publish(data: Frame, withService = false): Promise<void> {
    const service = this.service;
    if (!service) return;
    if (withService) {
      const last = this.lastValid;
      this.diag.messageAge = last === -Infinity ? undefined : Math.max(0, Math.floor((this.now() - last) / 1000));
      const ev = await this.serviceEval.evaluate(this.serviceDoc());
      for (const [path, state] of frameOf(serviceMapping(), ev)) data.set(path, state);
    }
    if (data.size) service.apply(data);
  }

  /** Once a second: expire sources, and refresh the diagnostics. */
  async tick(): Promise<void> {
    const now = this.now();
    if (++this.ticks % SUMMARY_TICKS === 0) this.summarize(now);
    const expired = this.freshness.expire(now);
    const wasConnected = this.diag.connected;
    for (const s of expired) {
      this.log.warn(`no valid message on ${s.topic} for ${s.timeout} s${s.required ? '' : ' (optional source: its values are dropped)'}`);
      this.documents.forget(s.topic);
    }
    // A source can stay fresh with messages that never pass the mapping (e.g. `{}` each second):
    // the battery also goes stale when no message was accepted for its timeout.
    const silent = now - this.lastValid >= this.opts.config.timeout * 1000;
    if (wasConnected && (!this.freshness.live || silent)) {
      this.diag.connected = false;
      this.evaluator.reset();
      this.log.warn('battery stale: /Connected = 0, all data paths (charge limits included) invalid until fresh data arrives');
      const invalid: Frame = new Map(this.opts.mapping.paths.map((p) => [p.path, { value: null, text: INVALID_TEXT }]));
      await this.publish(invalid, true);
      return;
    }
    if (expired.length && this.diag.connected) {
      // An optional source went away: recompute without its values.
      const ev = await this.evaluator.evaluate(this.documents.document, now);
      if (!ev.missingRequired.length) return this.publish(frameOf(this.opts.mapping, ev), true);
    }
    await this.publish(new Map(), true);
  }

  private summarize(now: number): void {
    const accepted = this.diag.accepted - this.summarized.accepted;
    const rejected = this.diag.rejected - this.summarized.rejected;
    this.summarized = { accepted: this.diag.accepted, rejected: this.diag.rejected };
    const age = this.lastValid === -Infinity ? 'no valid message yet' : `last valid message ${((now - this.lastValid) / 1000).toFixed(1)} s ago`;
    this.log.info(`${this.diag.connected ? 'connected' : 'STALE'}: ${accepted} messages mapped, ${rejected} rejected in the last ${(SUMMARY_TICKS * TICK_MS) / 60000} min; ${age}`);
  }

  /**
   * Ask localsettings for this battery's VRM instance (it may hand back another free one) and for
   * a /CustomName set from the GUI earlier. Without a settings service the config's values stand.
   */
  private async claimSettings(): Promise<void> {
    const settings = this.opts.settings;
    if (!settings) return;
    const base = `/Settings/Devices/vbat_${this.opts.config.name.replace(/-/g, '_')}`;
    try {
      if (!(await settings.available())) {
        this.log.info(`no settings service on the bus: using the configured instance ${this.identity.instance}`);
        return;
      }
      const [instance, name] = await settings.addSettings([
        { path: `${base}/ClassAndVrmInstance`, default: `battery:${this.identity.instance}` },
        { path: `${base}/CustomName`, default: '' },
      ]);
      const n = instance?.error === 0 ? parseClassAndVrmInstance(instance.value) : undefined;
      if (n === undefined) this.log.warn(`settings service gave no usable instance (${JSON.stringify(instance)}): using ${this.identity.instance}`);
      else if (n !== this.identity.instance) this.log.info(`settings service assigned instance ${n} (configured ${this.identity.instance})`);
      if (n !== undefined) this.identity.instance = n;
      if (name?.error === 0 && typeof name.value === 'string' && name.value !== '') this.identity.customName = name.value;
      this.settingsBase = base;
    } catch (err) {
      this.log.warn(`settings service did not answer (${(err as Error).message}): using the configured instance ${this.identity.instance}`);
    }
  }

  private onSetValue(path: string, value: PathValue): boolean {
    this.log.info(`${path} set to ${JSON.stringify(value)} over D-Bus`);
    if (path === '/CustomName') {
      this.identity.customName = typeof value === 'string' ? value : '';
      const settings = this.opts.settings;
      if (settings && this.settingsBase) {
        settings.setValue(`${this.settingsBase}/CustomName`, this.identity.customName).then(
          (code) => code !== 0 && this.log.warn(`settings service refused the new name (code ${code})`),
          (err: Error) => this.log.warn(`could not store the new name in the settings service: ${err.message}`),
        );
      }
    }
    return true;
  }

  private serviceDoc(): Record<string, unknown> {
    return serviceDocument(this.opts.config, this.opts.mapping, this.identity, this.diag);
  }
}

function latestPerTopic(messages: MqttMessage[]): MqttMessage[] {
  if (messages.length < 2) return messages;
  const latest = new Map<string, MqttMessage>();
  for (const m of messages) {
    latest.delete(m.topic); // keep arrival order of the survivors
    latest.set(m.topic, m);
  }
  return [...latest.values()];
}
