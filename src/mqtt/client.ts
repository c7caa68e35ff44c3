/**
 * One MQTT connection for one battery: subscribe, reconnect with exponential backoff, resubscribe.
 * Delivers raw messages; what they mean is the input stage's business. Logs once per state
 * change (connected / lost), never once per retry, and never logs credentials.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { MqttConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import { guardStream } from './packet-guard.js';

export interface MqttMessage {
  topic: string;
  payload: Buffer;
  /** Replayed by the broker from its store at subscribe time, not necessarily live data. */
  retained: boolean;
}

export interface MqttSourceOptions {
  config: MqttConfig & { url: string };
  clientId: string;
  topics: string[];
  log: Logger;
  onMessage: (m: MqttMessage) => void;
  /** Called on every connection state change. */
  onState?: (connected: boolean) => void;
}

/**
 * A PUBLISH's remaining length is its topic (up to 65535 bytes and a 2-byte length), a 2-byte packet
 * id and its payload; a packet longer than that allowance plus mqtt.maxPayloadBytes is skipped on
 * the wire (packet-guard.ts), so no message much over the payload limit is ever held in memory.
 */
const TOPIC_AND_ID_ALLOWANCE = 2 + 65_535 + 2;

type StreamBuilder = (client: MqttClient) => Duplex;

/** Outages up to this long are retried every QUICK_RETRY_MS; longer ones back off. */
const SHORT_OUTAGE_MS = 10_000;
const QUICK_RETRY_MS = 500;

export class MqttSource {
  private client?: MqttClient;
  /** The broker connection under the guard, for socket options. */
  private socket?: Partial<Socket>;
  private connected = false;
  private lastError = '';
  private backoffMs: number;
  /** When the current outage began (first close since the last connect). */
  private outageSince?: number;

  constructor(private readonly opts: MqttSourceOptions) {
    this.backoffMs = opts.config.reconnectMin * 1000;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  start(): void {
    const c = this.opts.config;
    if (c.insecure && /^(mqtts|wss):/i.test(c.url)) {
      this.opts.log.warn(`mqtt.insecure: the broker's TLS certificate is not checked; anyone on the network can pose as ${safeUrl(c.url)}`);
    }
    // mqtt.js splits a URL's userinfo at the first @ and never decodes it: hand it the
    // credentials ourselves (the config's own username/password win) and a URL without them.
    const fromUrl = urlCredentials(c.url);
    const options: IClientOptions = {
      clientId: this.opts.clientId,
      username: c.username ?? fromUrl.username,
      password: c.password ?? fromUrl.password,
      keepalive: c.keepalive,
      clean: true,
      reconnectPeriod: this.backoffMs,
      connectTimeout: 10_000,
      resubscribe: false, // we subscribe on every connect ourselves
      rejectUnauthorized: !c.insecure,
      ca: c.ca ? readFileSync(c.ca) : undefined,
      cert: c.cert ? readFileSync(c.cert) : undefined,
      key: c.key ? readFileSync(c.key) : undefined,
      manualConnect: true, // the stream is guarded first
      // mqtt-packet would otherwise build a table of 65,536 two-byte Buffers (6 MB of heap, every
      // one of them marked by each full GC) to save an allocation per packet vbat sends.
      writeCache: false,
    };
    const client = mqtt.connect(safeUrl(c.url), options);
    this.guardIncoming(client);
    this.client = client;
    client.on('connect', () => this.onConnect(client));
    client.on('close', () => this.onClose(client));
    client.on('error', (err) => this.onError(err));
    client.on('message', (topic, payload, packet) => this.opts.onMessage({ topic, payload, retained: packet.retain }));
    client.connect();
  }

  /**
   * Puts a PacketGuard between the broker's bytes and mqtt.js's parser. mqtt.js builds one stream
   * per connection attempt with a builder it keeps privately; no public option reaches the raw
   * stream, so the builder is wrapped, and a change of that internal fails loudly here.
   */
  private guardIncoming(client: MqttClient): void {
    const internals = client as unknown as { streamBuilder?: StreamBuilder };
    const build = internals.streamBuilder;
    if (typeof build !== 'function') throw new Error('mqtt.js no longer has the streamBuilder vbat guards: update src/mqtt/client.ts');
    const max = this.opts.config.maxPayloadBytes;
    internals.streamBuilder = (c) => {
      const raw = build(c);
      this.socket = raw as Partial<Socket>;
      return guardStream(raw, max + TOPIC_AND_ID_ALLOWANCE, (s) =>
        this.opts.log.warnLimited(
          'oversize',
          `message on ${JSON.stringify(s.topic)} dropped: ${s.bytes} bytes is over mqtt.maxPayloadBytes (${max}); skipped as it arrived, never held in memory`,
        ),
      );
    };
  }

  private onConnect(client: MqttClient): void {
    // Nagle's algorithm would hold small packets back for tens of milliseconds.
    this.socket?.setNoDelay?.(true);
    this.backoffMs = this.opts.config.reconnectMin * 1000;
    client.options.reconnectPeriod = this.backoffMs;
    this.outageSince = undefined;
    this.connected = true;
    this.lastError = '';
    this.opts.log.info(`MQTT connected to ${safeUrl(this.opts.config.url)}`);
    client.subscribe(this.opts.topics, { qos: this.opts.config.qos }, (err, granted) => {
      if (err) this.opts.log.error(`MQTT subscribe to ${this.opts.topics.join(', ')} failed: ${err.message}`);
      else if (granted?.some((g) => g.qos === 128))
        this.opts.log.error(
          `MQTT broker refused the subscription to ${granted
            .filter((g) => g.qos === 128)
            .map((g) => g.topic)
            .join(', ')}`,
        );
      else this.opts.log.info(`subscribed to ${this.opts.topics.join(', ')}`);
    });
    this.opts.onState?.(true);
  }

  private onClose(client: MqttClient): void {
    if (this.client !== client) return; // stopped on purpose
    if (this.connected) {
      this.connected = false;
      this.opts.log.warn(
        `MQTT connection to ${safeUrl(this.opts.config.url)} lost${this.lastError ? ` (${this.lastError})` : ''}; reconnecting`,
      );
      this.opts.onState?.(false);
    }
    // A broker restart or a short outage (up to SHORT_OUTAGE_MS) is retried quickly, so fresh data
    // is back within a second of the broker; only a longer outage backs off, up to reconnectMax.
    this.outageSince ??= Date.now();
    if (Date.now() - this.outageSince < SHORT_OUTAGE_MS) this.backoffMs = Math.min(this.opts.config.reconnectMin * 1000, QUICK_RETRY_MS);
    else this.backoffMs = Math.min(Math.max(this.backoffMs, QUICK_RETRY_MS) * 2, this.opts.config.reconnectMax * 1000);
    client.options.reconnectPeriod = this.backoffMs;
  }

  private onError(err: Error): void {
    const text = err.message;
    if (text === this.lastError) return;
    this.lastError = text;
    if (!this.connected)
      this.opts.log.warn(
        `MQTT cannot connect to ${safeUrl(this.opts.config.url)}: ${text}; retrying with backoff up to ${this.opts.config.reconnectMax} s`,
      );
  }

  /**
   * Publish a command to the BMS (write-back). Refused while disconnected: mqtt.js would queue it
   * and deliver it whenever the broker is back, long after anyone could tell it was meant. For the
   * same reason a QoS 1/2 command the broker has not confirmed within `withinMs`, or when the
   * connection drops, is taken out of mqtt.js's store (it would resend it after reconnecting) and
   * the promise rejects: a refused command is never delivered later.
   */
  publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean; withinMs?: number }): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('the MQTT broker is not connected'));
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (err?: Error) => {
        clearTimeout(timer);
        client.removeListener('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      client.publish(topic, payload, { qos: opts.qos, retain: opts.retain }, (err) => done(err ?? undefined));
      const id = opts.qos > 0 ? client.getLastMessageId() : undefined;
      const withdraw = (why: string) => {
        done(new Error(why));
        if (id !== undefined) client.removeOutgoingMessage(id); // its callback's error comes after: ignored
      };
      const onClose = () => withdraw('the connection to the broker dropped before it confirmed the command');
      client.once('close', onClose);
      if (opts.withinMs !== undefined)
        timer = setTimeout(() => withdraw(`the broker did not confirm it within ${opts.withinMs} ms`), opts.withinMs);
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 500);
      client.end(true, {}, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * The user and password of a broker URL: everything before the last `@` of its authority, split
 * at the first `:`, percent-decoded where it is percent-encoded (`P%40ss`) and taken as written
 * where it is not (`P@ss:w0rd`).
 */
export function urlCredentials(url: string): { username?: string; password?: string } {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^?#]*)@/i.exec(url);
  if (!m) return {};
  const userinfo = m[1]!;
  const colon = userinfo.indexOf(':');
  const decode = (t: string) => {
    try {
      return decodeURIComponent(t);
    } catch {
      return t;
    }
  };
  return colon < 0
    ? { username: decode(userinfo) }
    : { username: decode(userinfo.slice(0, colon)), password: decode(userinfo.slice(colon + 1)) };
}

/**
 * The broker URL fit for a log line: never any user or password, whatever characters they hold.
 * A password may contain `@`, `/` or `:` unescaped, so everything up to the last `@` (before any
 * query or fragment) counts as userinfo; what remains is normalised by the WHATWG URL parser.
 */
export function safeUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)?([^?#]*)(.*)$/i.exec(url)!;
  const main = m[2]!;
  const stripped = `${m[1] ?? ''}${main.slice(main.lastIndexOf('@') + 1)}${m[3]}`;
  try {
    const u = new URL(stripped);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return stripped;
  }
}
