/**
 * One battery at run time, as a conductor over parts it is handed: a message source (MQTT), a
 * sink (the D-Bus service) and an identity store (the settings service). It owns the safety
 * policy, which is why it is kept free of I/O and tested with fake time:
 *
 * - Every message is applied in a transaction: rejected by the input stage or by the mapping (a
 *   required path left invalid), it leaves no trace in the document and refreshes nothing.
 * - Each value in the document is as fresh as the message that delivered it and expires after its
 *   source's timeout; a path computed from an expired (or never sent) input is invalid.
 * - When a required path can no longer be computed, a required source is silent for its timeout,
 *   or no message was accepted for the battery's timeout, the battery goes stale: /Connected 0
 *   and every data path (the charge limits DVCC reads above all) invalid in one update, and the
 *   document is forgotten, so it is rebuilt only from data that arrives afterwards.
 * - Nothing here exits or stops because data stopped.
 */
import type { Availability, BatteryConfig, Source } from '../config/index.js';
import type { ItemDefinition } from '../dbus/index.js';
import { DocumentBuilder, topicMatches } from '../input/index.js';
import type { Logger } from '../log.js';
import { Evaluator, frameOf, type CompiledMapping, type Evaluation } from '../mapping/index.js';
import type { Frame, PathValue } from '../venus/types.js';
import { INVALID_TEXT } from '../venus/types.js';
import { Freshness, type SourceState } from './freshness.js';
import { itemDefinitions, serviceDocument, serviceEvaluator, serviceMapping, type Diagnostics, type Identity } from './identity.js';
import { MessageQueue } from './queue.js';
import { resolveSources } from './sources.js';
import type { IdentityStore } from './settings.js';
import type { BatterySink, SinkFactory } from './sink.js';
import { WriteBack, type CommandChannel } from './writeback.js';

export interface Message {
  topic: string;
  payload: Buffer | string;
  /** Replayed by the broker from its store at subscribe time, not necessarily live data. */
  retained: boolean;
}

/** Where messages come from (MQTT in production); with `publish`, also where commands go. */
export interface MessageSource extends Partial<CommandChannel> {
  start(): void;
  stop(): Promise<void>;
}

/** `sources`: what the battery reads, for parts that act on it (the Venus OS keepalive). */
export type SourceFactory = (topics: string[], onMessage: (m: Message) => void, sources: readonly Source[]) => MessageSource;

export interface BatteryOptions {
  config: BatteryConfig;
  mapping: CompiledMapping;
  maxPayloadBytes: number;
  log: Logger;
  openSource: SourceFactory;
  openSink: SinkFactory;
  identityStore?: IdentityStore;
  now?: () => number;
  /** Runs `tick` every second; by default an unref'd setInterval. Returns a stop function. */
  every?: (ms: number, fn: () => void) => () => void;
  schedule?: (fn: () => void) => void;
  /** Sees every evaluation of a message and what became of it (`vbat check` shows why). */
  observe?: (ev: Evaluation, outcome: 'published' | 'waiting' | 'rejected') => void;
}

/** At most this many messages wait while one batch is processed; older ones are dropped. */
const MAX_PENDING = 10_000;
const TICK_MS = 1000;
/**
 * A tree source's batch gathers messages for this long: an ESPHome reading's topics arrive in a
 * burst over a few socket reads, and are worth one evaluation and one D-Bus update, not one per
 * read (measured: 88 topics came in 2 reads; over Wi-Fi, more). Far below any freshness timeout.
 */
const TREE_SETTLE_MS = 20;
/** Distinct colliding keys reported per battery. */
const MAX_COLLISIONS = 10;
/** How often the log gets a one-line summary of the counters (in ticks). */
const SUMMARY_TICKS = 600;

/** Which service paths go with a publish: none (a message), the tick's refresh, or a state change. */
type ServiceUpdate = 'none' | 'tick' | 'state';

/** What a packs mapping reads besides the data: $packTotal (configured packs) and $packCapacity (name → Ah). */
function packVariables(packs: readonly Source[]): Record<string, unknown> {
  if (!packs.length) return {};
  const capacity: Record<string, number> = {};
  for (const p of packs) if (p.capacity !== undefined) capacity[p.pack!] = p.capacity;
  return { packTotal: packs.length, packCapacity: capacity };
}

const defaultEvery = (ms: number, fn: () => void) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

export class Battery {
  private readonly documents: DocumentBuilder;
  private readonly evaluator: Evaluator;
  private readonly serviceEval = serviceEvaluator();
  private readonly freshness: Freshness;
  private readonly queue: MessageQueue<Message>;
  private readonly diag: Diagnostics = { connected: false, accepted: 0, rejected: 0 };
  private readonly identity: Identity;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly config: BatteryConfig;
  private readonly mapping: CompiledMapping;
  private readonly writeBack: WriteBack;
  /** Topics vbat publishes commands on: what arrives there is a command, never the BMS's data. */
  private readonly commandTopics: Set<string>;
  private sink?: BatterySink;
  private source?: MessageSource;
  private stopTicks?: () => void;
  /** Serialises message batches and ticks: a transaction never sees a tick halfway through. */
  private work: Promise<void> = Promise.resolve();
  private lastValid = -Infinity;
  /** Diagnostics changed since they were last evaluated (a message counted or refused). */
  private diagChanged = false;
  /** A message was refused since the diagnostics were last signalled: show it on the next tick. */
  private rejectedUnsignalled = false;
  /** Leaves expired since the last published evaluation (cleared only by publishing one). */
  private dirty = false;
  /** Whether the document is built from many messages (see gathering()). */
  private readonly gathers: boolean;
  private ticks = 0;
  private readonly collisions = new Set<string>();
  private summarized = { accepted: 0, rejected: 0 };

  constructor(private readonly opts: BatteryOptions) {
    const { config, mapping } = opts;
    this.config = config;
    this.mapping = mapping;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    const sources = resolveSources(config, mapping);
    this.freshness = new Freshness(sources, config.minPacksOnline);
    this.gathers = mapping.input.format === 'tree' || sources.length > 1 || sources.some((s) => /[#+]/.test(s.topic));
    this.documents = new DocumentBuilder({
      input: mapping.input,
      topics: sources.map((s) => s.topic),
      maxPayloadBytes: opts.maxPayloadBytes,
      packOf: this.freshness.packs.length ? (topic) => this.freshness.sourceOf(topic)?.pack : undefined,
      onCollision: (keys, previous, topic) => this.collision(keys, previous, topic),
    });
    this.evaluator = new Evaluator(mapping, { ...packVariables(this.freshness.packs), ...config.variables });
    this.identity = { instance: config.instance, customName: config.customName };
    this.commandTopics = new Set(WriteBack.commandPaths(mapping).map((p) => p.command!.topic));
    this.writeBack = new WriteBack({
      mapping,
      log: this.log,
      now: this.now,
      variables: { ...mapping.variables, ...config.variables },
      channel: () => (this.source?.publish ? (this.source as CommandChannel) : undefined),
      refusal: () => (this.diag.connected ? undefined : 'the battery is stale (no fresh data from the BMS)'),
      document: () => this.documents.document,
      reported: (path) => {
        const i = mapping.byPath.get(path)!.index;
        return { value: this.evaluator.values[i]!, text: this.evaluator.texts[i]! };
      },
    });
    this.queue = new MessageQueue<Message>({
      latestOnly: mapping.input.format === 'json' && !mapping.input.merge,
      max: MAX_PENDING,
      handle: (batch) => this.serially(() => this.process(batch)),
      onOverflow: () => this.log.warnLimited('overload', `overloaded: more than ${MAX_PENDING} messages waiting, dropping the oldest`),
      onError: (err) =>
        this.log.warnLimited('internal', `internal error while processing messages: ${(err as Error).stack ?? String(err)}`),
      settleMs: mapping.input.format === 'tree' ? TREE_SETTLE_MS : 0,
      schedule: opts.schedule,
    });
  }

  get serviceName(): string {
    return this.config.serviceName;
  }

  get connected(): boolean {
    return this.diag.connected;
  }

  /** The input document as it stands: what `vbat check` builds a command's payload on. */
  get inputDocument(): unknown {
    return this.documents.document;
  }

  /** The /DeviceInstance in use (from the settings service, else the config). */
  get instance(): number {
    return this.identity.instance;
  }

  /** Export the service (everything invalid, /Connected 0), then subscribe. */
  async start(): Promise<void> {
    await this.opts.identityStore?.claim(this.identity);
    this.sink = this.opts.openSink({
      items: () => this.items(),
      onSetValue: (path, value, sender) => this.onSetValue(path, value, sender),
      onLost: () => void this.serially(async () => this.forget()),
      onRestored: () => undefined,
    });
    await this.sink.open();
    this.log.info(
      `exported ${this.config.serviceName} (instance ${this.identity.instance}, ${this.mapping.paths.length} data paths from ${this.mapping.file}); waiting for data`,
    );
    for (const p of WriteBack.commandPaths(this.mapping))
      this.log.info(`write-back: a SetValue on ${p.path} publishes a command on ${p.command!.topic}`);
    this.stopTicks = (this.opts.every ?? defaultEvery)(TICK_MS, () => void this.tick());
    this.source = this.opts.openSource(this.subscriptions(), (m) => this.onMessage(m), this.freshness.sources);
    this.source.start();
  }

  /** The data filters, and each availability topic no data filter covers already. */
  private subscriptions(): string[] {
    const filters = this.freshness.sources.map((s) => s.topic);
    for (const s of this.freshness.sources) {
      const a = s.availability ? s.availability.topic : undefined;
      if (a && !filters.some((f) => topicMatches(f, a))) filters.push(a);
    }
    return filters;
  }

  async stop(): Promise<void> {
    this.stopTicks?.();
    this.stopTicks = undefined;
    await Promise.allSettled([this.source?.stop(), this.sink?.close()]);
    this.source = undefined;
    this.sink = undefined;
  }

  onMessage(m: Message): void {
    this.queue.push(m);
  }

  /** Resolves once every message received so far has been handled (tests). */
  async settled(): Promise<void> {
    await this.queue.idle();
    await this.work;
  }

  /** Once a second: expire values and sources, go stale when due, refresh the diagnostics. */
  tick(): Promise<void> {
    return this.serially(() => this.refresh());
  }

  private serially(task: () => Promise<void>): Promise<void> {
    const run = this.work.then(task);
    this.work = run.catch((err) => this.log.warnLimited('internal', `internal error: ${(err as Error).stack ?? String(err)}`));
    return this.work;
  }

  private async process(batch: Message[]): Promise<void> {
    const now = this.now();
    if (this.documents.expire(now)) this.dirty = true;
    // Availability messages take effect where they stand among the data, never as data.
    let data: Message[] = [];
    for (const m of batch) {
      const source = this.freshness.availabilityOf(m.topic);
      if (!source) {
        data.push(m);
        continue;
      }
      if (data.length) await this.applyAll(data, now);
      data = [];
      await this.availability(source, m, now);
    }
    if (data.length) await this.applyAll(data, now);
  }

  private async applyAll(batch: Message[], now: number): Promise<void> {
    if (await this.apply(batch, now)) return;
    // One bad message never takes the rest of its batch down with it.
    for (const m of batch) await this.apply([m], now);
  }

  /**
   * A birth / last-will message. `offline`: the source is stale now and its values are dropped;
   * a required one takes the battery stale in the same update (/Connected 0, limits invalid),
   * not after its timeout. `online`: its data counts again, fresh once it arrives.
   */
  private async availability(source: SourceState, m: Message, now: number): Promise<void> {
    const a = source.availability as Availability;
    const said = (typeof m.payload === 'string' ? m.payload : m.payload.toString('utf8')).trim();
    if (said === a.online) {
      if (this.freshness.setOnline(source))
        this.log.info(`${a.topic} says ${a.online}: data on ${source.topic} counts again once it arrives`);
      return;
    }
    if (said !== a.offline) {
      this.log.warnLimited(
        `availability:${a.topic}`,
        `${a.topic}: payload ${JSON.stringify(said.slice(0, 40))} is neither "${a.online}" nor "${a.offline}"; ignored`,
      );
      return;
    }
    if (!this.freshness.setOffline(source)) return;
    const why = `${a.topic} says ${a.offline}`;
    this.log.warn(`${why}: ${source.topic} is stale now${source.required ? '' : ' (optional source: its values are dropped)'}`);
    const dropped = this.documents.dropFrom(source.topic);
    if (!this.diag.connected) return;
    if (source.required || !this.freshness.live()) return this.goStale(source.required ? why : `${why}; ${this.freshness.why()}`);
    if (dropped) await this.recompute(now, why);
  }

  /**
   * Apply messages in one transaction; commit and publish when the mapping accepts the result.
   * False when the mapping rejected a batch of several messages (the caller retries them singly).
   */
  private async apply(batch: Message[], now: number): Promise<boolean> {
    this.documents.begin();
    const delivering = new Set<SourceState>();
    const vanished: string[] = [];
    for (const m of batch) {
      const source = this.freshness.sourceOf(m.topic);
      if (!source) continue;
      if (this.commandTopics.has(m.topic)) {
        // Our own commands come back through a filter like jk-bms/#: they must neither enter the
        // document nor keep a silent BMS fresh.
        this.log.debug(() => `message on ${m.topic} ignored: a command topic of the mapping, not data from the BMS`);
        continue;
      }
      if (m.retained && !this.config.retainedIsFresh) {
        this.log.debug(() => `retained message on ${m.topic} ignored: not proof of a live BMS (retainedIsFresh: false)`);
        continue;
      }
      if (source.offline) {
        this.log.debug(() => `message on ${m.topic} ignored: ${source.availability ? source.availability.topic : ''} said offline`);
        continue;
      }
      const r = this.documents.accept(m.topic, m.payload, now + source.timeout * 1000, source.venus === true);
      if (!r.ok) this.reject(`bad message on ${m.topic}: ${r.reason}`, `bad:${m.topic}:${r.kind}`);
      else if (r.vanished) vanished.push(m.topic);
      else if (r.leaves === 0)
        this.reject(`message on ${m.topic} carries no values: it does not count as fresh data`, `novalues:${m.topic}`);
      else delivering.add(source);
    }
    if (delivering.size === 0) {
      if (!vanished.length) {
        this.documents.rollback();
        return true;
      }
      // Values went away (Venus OS: invalid path or service gone): invalid now, not at their timeout.
      this.documents.commit();
      if (this.diag.connected) await this.recompute(now, `${vanished.join(', ')} went away`);
      return true;
    }
    if (!this.freshness.live(delivering)) {
      this.commit(delivering, now);
      this.log.debug(() => `stored; waiting before publishing: ${this.freshness.why(delivering)}`);
      return true;
    }
    const ev = await this.evaluate(now);
    if (ev.missingRequired.length) {
      if (this.gathering(ev)) {
        this.opts.observe?.(ev, 'waiting');
        this.commit(delivering, now);
        this.log.debug(() => `stored; waiting for the inputs of ${ev.missingRequired.join(', ')} before publishing`);
        return true;
      }
      this.documents.rollback();
      if (batch.length > 1) return false;
      this.opts.observe?.(ev, 'rejected');
      this.reject(`message dropped: required input missing or invalid for ${ev.missingRequired.join(', ')}`, 'required');
      return true;
    }
    this.commit(delivering, now);
    this.dirty = false; // what is published now reflects every expiry so far
    this.lastValid = now;
    this.diag.accepted++;
    this.diagChanged = true;
    this.warnProblems(ev);
    this.opts.observe?.(ev, 'published');
    const wasConnected = this.diag.connected;
    if (!wasConnected) {
      this.diag.connected = true;
      this.log.info('data is arriving: battery connected');
    }
    await this.publish(this.held(frameOf(this.mapping, ev, !wasConnected)), wasConnected ? 'none' : 'state');
    return true;
  }

  /**
   * A document built from many messages (one value per topic, several topics) fills up message by
   * message: before the battery first connects, a message that leaves required paths merely
   * absent is kept (its values expire like any other). One that makes a required path wrong (bad
   * type, out of range, failing expression), or any failure once the battery is connected, is
   * dropped. A single-topic JSON battery never gathers: each message must complete the document
   * with what is fresh, or it is dropped.
   */
  private gathering(ev: Evaluation): boolean {
    if (this.diag.connected || !this.gathers) return false;
    return this.mapping.required.every((i) => ev.problems[i] === undefined);
  }

  private commit(delivering: Set<SourceState>, now: number): void {
    this.documents.commit();
    for (const s of delivering) this.freshness.markFresh(s, now);
  }

  private async evaluate(now: number): Promise<Evaluation> {
    const latest = this.mapping.input.merge ? this.documents.latest : undefined;
    const ev = await this.evaluator.evaluate(this.documents.document, now, latest, this.documents.changes);
    // Only once it finished: an evaluation that failed halfway has not seen every change.
    this.documents.settleChanges();
    return ev;
  }

  private async refresh(): Promise<void> {
    const now = this.now();
    if (++this.ticks % SUMMARY_TICKS === 0) this.summarize(now);
    const unconfirmed = this.writeBack.expire();
    if (unconfirmed.size) this.sink?.apply(unconfirmed);
    let packDropped = false;
    for (const s of this.freshness.expire(now)) {
      const what =
        s.pack !== undefined ? ` (pack ${s.pack}: its data is dropped)` : s.required ? '' : ' (optional source: its values are dropped)';
      this.log.warn(`no valid message on ${s.topic} for ${s.timeout} s${what}`);
      // A stale pack leaves at once, all of it: no share of a sum computed from what it sent earlier.
      if (s.pack !== undefined && this.documents.dropFrom(s.topic)) packDropped = true;
    }
    const dropped = this.documents.expire(now) || this.dirty || packDropped;
    if (!this.diag.connected) return this.publish(new Map(), 'tick');
    if (!this.freshness.live()) return this.goStale(this.freshness.why());
    if (now - this.lastValid >= this.config.timeout * 1000) return this.goStale(`no valid message for ${this.config.timeout} s`);
    if (!dropped) return this.publish(new Map(), 'tick');
    // Some values expired: recompute without them.
    await this.recompute(now, 'older than their timeout');
  }

  /** Values left the document: publish what the rest gives, or go stale when a required path lost its inputs. */
  private async recompute(now: number, why: string): Promise<void> {
    const ev = await this.evaluate(now);
    if (ev.missingRequired.length) return this.goStale(`inputs of ${ev.missingRequired.join(', ')}: ${why}`);
    this.dirty = false;
    this.opts.observe?.(ev, 'published');
    await this.publish(this.held(frameOf(this.mapping, ev)), 'tick');
  }

  /** A mapped frame, minus the paths that show a written value (see WriteBack.hold). */
  private held(frame: Frame): Frame {
    this.writeBack.hold(frame);
    return frame;
  }

  private goStale(why: string): Promise<void> {
    this.forget();
    this.log.warn(`battery stale (${why}): /Connected = 0, all data paths (charge limits included) invalid until fresh data arrives`);
    const invalid: Frame = new Map(this.mapping.paths.map((p) => [p.path, { value: null, text: INVALID_TEXT }]));
    return this.publish(invalid, 'state');
  }

  /** Forget all data: what comes back is built only from messages that arrive afterwards. */
  private forget(): void {
    this.diag.connected = false;
    this.writeBack.reset();
    this.evaluator.reset();
    this.documents.clear();
    this.freshness.reset();
    this.dirty = false;
  }

  /** Reported once per key (at most MAX_COLLISIONS keys): a configuration mistake, not bad input. */
  private collision(keys: readonly string[], previous: string, topic: string): void {
    const key = keys.join('.');
    if (this.collisions.has(key) || this.collisions.size >= MAX_COLLISIONS) return;
    this.collisions.add(key);
    this.log.warn(
      `key collision: ${previous} and ${topic} both write the document key ${key}; their values overwrite each other. Give each source its own keys (a tree filter without # keys by every topic level), or one battery per source`,
    );
  }

  private reject(reason: string, key: string): void {
    this.diag.rejected++;
    this.diagChanged = true;
    this.rejectedUnsignalled = true;
    this.diag.lastProblem = reason;
    this.log.warnLimited(key, reason);
  }

  private warnProblems(ev: Evaluation): void {
    if (!ev.problemCount) return;
    ev.problems.forEach((problem, i) => {
      if (!problem) return;
      const path = this.mapping.paths[i]!.path;
      this.diag.lastProblem = `${path}: ${problem}`;
      this.log.warnLimited(`value:${path}`, `${path} invalid: ${problem}`);
    });
  }

  /**
   * Apply data changes in one update. The service paths (identity, diagnostics) are evaluated only
   * at state changes and on the tick after they changed, never per message. Diagnostics (/Vbat/*)
   * are signalled only with data changes, state changes and after a refused message: a counter
   * signalled on a timer is an ItemsChanged that dbus-flashmq parses and forwards to MQTT and VRM
   * for a battery whose data does not change (issue 13: no signal then). A client that reads them
   * (GetValue, GetItems) gets them as of the last tick.
   */
  private async publish(data: Frame, service: ServiceUpdate): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    if (service === 'none') return sink.apply(data);
    const signal = service === 'state' || this.rejectedUnsignalled;
    if (service === 'state' || this.diagChanged) {
      this.diagChanged = false;
      this.diag.lastMessageTime = this.lastValid === -Infinity ? undefined : Math.floor(this.lastValid / 1000);
      const ev = await this.serviceEval.evaluate(this.serviceDoc());
      sink.apply(frameOf(serviceMapping(), ev), 'later');
    }
    if (signal) this.rejectedUnsignalled = false;
    // Data changes are always signalled, and take the held diagnostics with them.
    sink.apply(data, signal ? 'all' : 'changes');
  }

  /** The service as exported now: service paths from the current state, data paths invalid. */
  private async items(): Promise<ItemDefinition[]> {
    const service = serviceMapping();
    const ev = await this.serviceEval.evaluate(this.serviceDoc());
    const state = (path: string) => {
      const i = service.byPath.get(path)!.index;
      return { value: ev.values[i]!, text: ev.texts[i]! };
    };
    return itemDefinitions(service, state, this.mapping);
  }

  private summarize(now: number): void {
    const accepted = this.diag.accepted - this.summarized.accepted;
    const rejected = this.diag.rejected - this.summarized.rejected;
    this.summarized = { accepted: this.diag.accepted, rejected: this.diag.rejected };
    const age =
      this.lastValid === -Infinity ? 'no valid message yet' : `last valid message ${((now - this.lastValid) / 1000).toFixed(1)} s ago`;
    this.log.info(
      `${this.diag.connected ? 'connected' : 'STALE'}: ${accepted} messages mapped, ${rejected} rejected in the last ${(SUMMARY_TICKS * TICK_MS) / 60000} min; ${age}`,
    );
  }

  private onSetValue(path: string, value: PathValue, sender: string): boolean | Promise<boolean> {
    if (this.writeBack.handles(path)) return this.writeBack.set(path, value, sender);
    this.log.info(`${path} set to ${JSON.stringify(value)} over D-Bus by ${sender || 'unknown sender'}`);
    if (path === '/CustomName') {
      this.identity.customName = typeof value === 'string' ? value : '';
      this.opts.identityStore?.storeName(this.identity.customName);
    }
    return true;
  }

  private serviceDoc(): Record<string, unknown> {
    return serviceDocument(this.config, this.mapping, this.identity, this.diag);
  }
}
