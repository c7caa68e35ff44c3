/**
 * The keepalive Venus OS's MQTT broker wants before it publishes anything. dbus-flashmq
 * (victronenergy/dbus-flashmq, README "Keep-alive", src/state.cpp handle_keepalive) sends the
 * N/<portal id>/... notifications of the GX's D-Bus only while a client has written to
 * R/<portal id>/keepalive within the last 60 s; an empty payload also makes it republish every
 * topic, `{"keepalive-options": ["suppress-republish"]}` only keeps it alive. Its notifications are
 * not retained and a value is published only when it changes, so a value that stays the same is
 * heard again only in a full republish. The one exception is N/<portal id>/system/0/Serial, which
 * it keeps retained: a subscriber learns the portal id from it without waking anything.
 *
 * vbat counts every value only as fresh as its last message (input/store.ts), so the full
 * republish must come often enough that no unchanged value outlives its source's timeout: a
 * keepalive goes out every min(30 s, timeout / 2), and it asks for a full republish on every
 * (re)connect, for a newly learned portal, and whenever waiting for the next keepalive would let
 * the last full one grow older than timeout / 2; otherwise (long timeouts only) it uses
 * suppress-republish, as flashmq's README advises.
 */
import { topicMatches } from '../input/topics.js';
import type { Logger } from '../log.js';

export interface KeepaliveOptions {
  /** The Venus OS source filters: N/<portal id or +>/<service>/<instance>/<path>. */
  filters: string[];
  /** The shortest timeout of those sources, ms. */
  timeoutMs: number;
  publish: (topic: string, payload: string) => void;
  log: Logger;
  now?: () => number;
  /** Runs `fn` every `ms`; by default an unref'd setInterval. Returns a stop function. */
  every?: (ms: number, fn: () => void) => () => void;
}

/** flashmq forgets a keepalive after 60 s; one every 30 s leaves room for a lost one. */
export const KEEPALIVE_MS = 30_000;
export const SUPPRESS_REPUBLISH = JSON.stringify({ 'keepalive-options': ['suppress-republish'] });
/** Portal ids learned from `+`: anyone can publish a topic, so their number is bounded. */
export const MAX_PORTALS = 4;
const PORTAL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SERIAL = 'N/+/system/0/Serial';

const defaultEvery = (ms: number, fn: () => void) => {
  const t = setInterval(fn, ms);
  t.unref();
  return () => clearInterval(t);
};

export class VenusKeepalive {
  /** Further topics to subscribe to (the retained Serial, when a portal id is to be learned). */
  readonly subscriptions: string[];
  readonly intervalMs: number;
  private readonly portals = new Map<string, { lastFull: number }>();
  /** Filters with `+` as the portal id: ids are learned from the topics they match. */
  private readonly learnFrom: string[];
  private connected = false;
  private refused = false;
  private stopTimer?: () => void;
  private readonly now: () => number;

  constructor(private readonly opts: KeepaliveOptions) {
    this.now = opts.now ?? Date.now;
    this.intervalMs = Math.max(1000, Math.min(KEEPALIVE_MS, opts.timeoutMs / 2));
    this.learnFrom = [];
    for (const f of opts.filters) {
      const portal = f.split('/')[1];
      if (portal === undefined || portal === '#' || portal === '+') this.learnFrom.push(f);
      else this.portals.set(portal, { lastFull: -Infinity });
    }
    this.subscriptions = this.learnFrom.length ? [SERIAL] : [];
  }

  /** The portal ids keepalives go to. */
  get known(): string[] {
    return [...this.portals.keys()];
  }

  start(): void {
    this.stopTimer ??= (this.opts.every ?? defaultEvery)(this.intervalMs, () => this.tick());
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }

  /** Every (re)connect: flashmq may have forgotten us, and we missed what it sent meanwhile. */
  onConnected(connected: boolean): void {
    this.connected = connected;
    if (!connected) return;
    for (const portal of this.portals.keys()) this.send(portal, true);
  }

  /** Every message the battery's client receives: learns portal ids where the filter has `+`. */
  observe(topic: string): void {
    if (!this.learnFrom.length || !topic.startsWith('N/')) return;
    const levels = topic.split('/');
    const portal = levels[1]!;
    if (this.portals.has(portal)) return;
    const isSerial = levels.length === 5 && levels[2] === 'system' && levels[3] === '0' && levels[4] === 'Serial';
    if (!isSerial && !this.learnFrom.some((f) => topicMatches(f, topic))) return;
    if (!PORTAL_ID.test(portal)) return;
    if (this.portals.size >= MAX_PORTALS) {
      if (!this.refused)
        this.opts.log.warn(`Venus OS MQTT: more than ${MAX_PORTALS} portal ids seen; ${portal} and any further ones get no keepalive`);
      this.refused = true;
      return;
    }
    this.portals.set(portal, { lastFull: -Infinity });
    this.opts.log.info(`Venus OS MQTT: portal id ${portal} (from ${topic}); sending keepalives to R/${portal}/keepalive`);
    if (this.connected) this.send(portal, true);
  }

  private tick(): void {
    if (!this.connected) return;
    const now = this.now();
    // Full unless the next keepalive still comes within timeout / 2 of the last full republish.
    for (const [portal, p] of this.portals) this.send(portal, now + this.intervalMs - p.lastFull > this.opts.timeoutMs / 2);
  }

  private send(portal: string, full: boolean): void {
    const p = this.portals.get(portal)!;
    if (full) p.lastFull = this.now();
    this.opts.publish(`R/${portal}/keepalive`, full ? '' : SUPPRESS_REPUBLISH);
  }
}
