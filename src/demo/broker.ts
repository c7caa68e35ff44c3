/**
 * A minimal MQTT 3.1.1 broker, FOR `vbat demo` ONLY: it listens on a loopback address so the demo
 * runs with nothing installed. It is not a production broker: no authentication, no persistent
 * sessions (every session is clean), no QoS 1 retransmission, no QoS 2 delivery guarantee
 * (incoming QoS 2 is acknowledged and forwarded at QoS 1 at most). Packets are parsed and
 * encoded by `mqtt-packet` (the protocol library mqtt.js itself uses).
 *
 * Supported: CONNECT/CONNACK, SUBSCRIBE/SUBACK with `+` and `#`, UNSUBSCRIBE/UNSUBACK, PUBLISH
 * QoS 0 and 1 (PUBACK), retained messages, PINGREQ/PINGRESP, DISCONNECT, last will, keepalive.
 * Everything is bounded: retained topics, subscriptions per client, a client's unsent output.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  generate,
  parser as mqttParser,
  type IConnectPacket,
  type IPublishPacket,
  type ISubscribePacket,
  type IUnsubscribePacket,
  type Packet,
  type QoS,
} from 'mqtt-packet';
import { topicMatches, validTopicFilter } from '../input/index.js';

export interface BrokerOptions {
  /** Loopback address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (a free one). */
  port?: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_RETAINED = 10_000;
const MAX_SUBSCRIPTIONS = 1_000;
/** A client that lets this much output pile up is too slow for the demo and is dropped. */
const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
}

/** CONNACK return codes of MQTT 3.1.1. */
const CONNACK = { accepted: 0, badProtocol: 1, badClientId: 2 } as const;

export class DemoBroker {
  private readonly clients = new Set<Session>();
  private readonly byId = new Map<string, Session>();
  private readonly retained = new Map<string, Message>();
  private nextClientNumber = 0;
  /** Messages accepted from publishers (for the demo's status line and tests). */
  published = 0;

  private constructor(
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(opts: BrokerOptions = {}): Promise<DemoBroker> {
    const host = opts.host ?? '127.0.0.1';
    if (!LOOPBACK.has(host)) throw new Error(`the demo broker only listens on loopback addresses, not ${host}`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new Error(`cannot listen on ${host}:${opts.port ?? 0}: ${err.code ?? err.message}`)),
      );
      server.listen(opts.port ?? 0, host, () => resolve());
    });
    const broker = new DemoBroker(server, host, (server.address() as AddressInfo).port);
    server.on('connection', (socket) => broker.accept(socket));
    server.on('error', () => undefined);
    return broker;
  }

  get url(): string {
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** Stop listening and drop every client; resolves when the server is closed (bounded). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.clients) c.socket.destroy();
    this.clients.clear();
    this.byId.clear();
    await Promise.race([closed, new Promise<void>((r) => setTimeout(r, 1000).unref())]);
  }

  private accept(socket: Socket): void {
    const session = new Session(this, socket);
    this.clients.add(session);
  }

  /** Called by a session once its CONNECT was accepted. */
  registerClient(session: Session, requestedId: string): string {
    const id = requestedId || `demo-broker-${++this.nextClientNumber}`;
    const previous = this.byId.get(id);
    if (previous && previous !== session) previous.kick(); // MQTT-3.1.4-2: the old one goes
    this.byId.set(id, session);
    return id;
  }

  forget(session: Session): void {
    this.clients.delete(session);
    if (session.clientId && this.byId.get(session.clientId) === session) this.byId.delete(session.clientId);
  }

  /** Route a message to every matching subscription; store or clear it when retained. */
  route(msg: Message): void {
    this.published++;
    if (msg.retain) {
      if (msg.payload.length === 0) this.retained.delete(msg.topic);
      else if (this.retained.has(msg.topic) || this.retained.size < MAX_RETAINED) this.retained.set(msg.topic, msg);
    }
    for (const c of this.clients) c.deliver(msg, false);
  }

  /** Retained messages a new subscription matches. */
  retainedFor(filter: string): Message[] {
    const out: Message[] = [];
    for (const m of this.retained.values()) if (filterMatches(filter, m.topic)) out.push(m);
    return out;
  }
}

/** Topic matching with MQTT's `$` rule: wildcards at the first level never match `$SYS/...`. */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  return topicMatches(filter, topic);
}

class Session {
  clientId = '';
  private connected = false;
  private readonly subscriptions = new Map<string, QoS>();
  private will?: Message;
  private nextMessageId = 0;
  private closed = false;
  private readonly connectTimer: NodeJS.Timeout;

  constructor(
    private readonly broker: DemoBroker,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    const p = mqttParser();
    p.on('packet', (packet: Packet) => this.onPacket(packet));
    p.on('error', () => this.close(true));
    socket.on('data', (chunk: Buffer) => {
      if (!this.closed) p.parse(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.close(!this.closed));
    socket.on('timeout', () => this.close(true));
    this.connectTimer = setTimeout(() => {
      if (!this.connected) this.close(true);
    }, CONNECT_TIMEOUT_MS);
    this.connectTimer.unref();
  }

  private onPacket(packet: Packet): void {
    if (this.closed) return;
    if (!this.connected && packet.cmd !== 'connect') return this.close(true); // MQTT-3.1.0-1
    switch (packet.cmd) {
      case 'connect':
        return this.onConnect(packet);
      case 'publish':
        return this.onPublish(packet);
      case 'pubrel':
        return this.send({ cmd: 'pubcomp', messageId: packet.messageId });
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'pingreq':
        return this.send({ cmd: 'pingresp' });
      case 'disconnect':
        this.will = undefined; // a clean goodbye discards the will
        return this.close(false);
      case 'puback':
      case 'pubrec':
      case 'pubcomp':
        return; // no retransmission queue to clear
      default:
        return this.close(true); // a client must not send server packets
    }
  }

  private onConnect(packet: IConnectPacket): void {
    if (this.connected) return this.close(true); // MQTT-3.1.0-2: a second CONNECT
    clearTimeout(this.connectTimer);
    if (packet.protocolVersion !== 3 && packet.protocolVersion !== 4) {
      this.send({ cmd: 'connack', returnCode: CONNACK.badProtocol, sessionPresent: false });
      return this.close(false);
    }
    if (!packet.clientId && packet.clean === false) {
      this.send({ cmd: 'connack', returnCode: CONNACK.badClientId, sessionPresent: false });
      return this.close(false);
    }
    this.connected = true;
    this.clientId = this.broker.registerClient(this, packet.clientId);
    if (packet.will) {
      const payload = packet.will.payload;
      this.will = {
        topic: packet.will.topic,
        payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
        qos: minQos(packet.will.qos ?? 0),
        retain: packet.will.retain ?? false,
      };
    }
    // Keepalive: drop a client silent for 1.5 × its keepalive (MQTT-3.1.2-24).
    if (packet.keepalive) this.socket.setTimeout(packet.keepalive * 1500);
    this.send({ cmd: 'connack', returnCode: CONNACK.accepted, sessionPresent: false });
  }

  private onPublish(packet: IPublishPacket): void {
    if (!packet.topic || packet.topic.includes('+') || packet.topic.includes('#')) return this.close(true); // MQTT-3.3.2-2
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (packet.qos === 1) this.send({ cmd: 'puback', messageId: packet.messageId });
    else if (packet.qos === 2) this.send({ cmd: 'pubrec', messageId: packet.messageId });
    this.broker.route({ topic: packet.topic, payload, qos: minQos(packet.qos), retain: packet.retain });
  }

  private onSubscribe(packet: ISubscribePacket): void {
    const granted: number[] = [];
    const replay: [Message, QoS][] = [];
    for (const s of packet.subscriptions) {
      if (validTopicFilter(s.topic) || (!this.subscriptions.has(s.topic) && this.subscriptions.size >= MAX_SUBSCRIPTIONS)) {
        granted.push(0x80);
        continue;
      }
      const qos = minQos(s.qos);
      this.subscriptions.set(s.topic, qos);
      granted.push(qos);
      for (const m of this.broker.retainedFor(s.topic)) replay.push([m, qos]);
    }
    this.send({ cmd: 'suback', messageId: packet.messageId, granted });
    // Retained messages go out after the SUBACK, with the retain flag set (MQTT-3.3.1-8).
    for (const [m, qos] of replay) this.publish(m, minQos(Math.min(m.qos, qos)), true);
  }

  private onUnsubscribe(packet: IUnsubscribePacket): void {
    for (const t of packet.unsubscriptions) this.subscriptions.delete(t);
    this.send({ cmd: 'unsuback', messageId: packet.messageId, granted: [] });
  }

  /** Forward a routed message once, at the highest QoS of the matching subscriptions. */
  deliver(msg: Message, retain: boolean): void {
    if (!this.connected || this.closed) return;
    let qos = -1;
    for (const [filter, q] of this.subscriptions) if (q > qos && filterMatches(filter, msg.topic)) qos = q;
    if (qos < 0) return;
    this.publish(msg, minQos(Math.min(qos, msg.qos)), retain);
  }

  private publish(msg: Message, qos: QoS, retain: boolean): void {
    const packet: IPublishPacket = { cmd: 'publish', topic: msg.topic, payload: msg.payload, qos, retain, dup: false };
    if (qos > 0) {
      this.nextMessageId = (this.nextMessageId % 0xffff) + 1;
      packet.messageId = this.nextMessageId;
    }
    this.send(packet);
  }

  private send(packet: Packet): void {
    if (this.closed || this.socket.destroyed) return;
    if (this.socket.writableLength > MAX_BACKLOG_BYTES) return this.close(true);
    this.socket.write(generate(packet));
  }

  /** Another connection took over this client id. */
  kick(): void {
    this.close(false);
  }

  private close(unexpected: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    this.broker.forget(this);
    const will = unexpected ? this.will : undefined;
    this.will = undefined;
    if (this.socket.writableLength > 0 && !this.socket.destroyed) this.socket.end();
    else this.socket.destroy();
    // end() lets queued output (a refusing CONNACK) go first; never wait long for it.
    setTimeout(() => this.socket.destroy(), 500).unref();
    if (will) this.broker.route(will);
  }
}

function minQos(q: number): QoS {
  return q >= 1 ? 1 : 0;
}
