/**
 * The floor process: what any Node.js MQTT → D-Bus program costs before it does anything useful.
 * It loads the same libraries as vbat (mqtt, dbus-next), claims each --name on the bus with its
 * own connection (as vbat does per battery), then subscribes one MQTT client per --topic and
 * only counts the messages. Compiled and run like vbat (node, no tsx).
 *
 *   node floor-process.js --broker URL --bus ADDRESS [--topic T]... [--name N]...
 *
 * Prints "ready" once every name is owned and every subscription acknowledged; answers a
 * "count" line on stdin with {"received": n}; exits on SIGTERM/SIGINT.
 */
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Message, sessionBus, type MessageBus } from 'dbus-next';
import mqtt, { type MqttClient } from 'mqtt';

const { values } = parseArgs({
  options: {
    broker: { type: 'string' },
    bus: { type: 'string' },
    topic: { type: 'string', multiple: true, default: [] },
    name: { type: 'string', multiple: true, default: [] },
  },
});

let received = 0;
const buses: MessageBus[] = [];
const clients: MqttClient[] = [];

async function claim(name: string): Promise<void> {
  const bus = sessionBus({ busAddress: values.bus });
  buses.push(bus);
  await new Promise<void>((res, rej) => bus.once('connect', () => res()).once('error', rej));
  const reply = await bus.call(
    new Message({
      destination: 'org.freedesktop.DBus',
      path: '/org/freedesktop/DBus',
      interface: 'org.freedesktop.DBus',
      member: 'RequestName',
      signature: 'su',
      body: [name, 4],
    }),
  );
  if (reply?.body[0] !== 1) throw new Error(`could not own ${name}`);
}

function subscribe(topic: string, i: number): Promise<void> {
  const c = mqtt.connect(values.broker!, { clientId: `floor_${process.pid}_${i}`, clean: true, reconnectPeriod: 1000 });
  clients.push(c);
  c.on('message', () => {
    received++;
  });
  return new Promise((res, rej) => {
    c.once('connect', () => {
      (c.stream as Partial<Socket> | undefined)?.setNoDelay?.(true);
      c.subscribe(topic, { qos: 0 }, (err) => (err ? rej(err) : res()));
    });
  });
}

async function main(): Promise<void> {
  for (const n of values.name!) await claim(n);
  await Promise.all(values.topic!.map((t, i) => subscribe(t, i)));
  process.stdout.write('ready\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'count') process.stdout.write(`${JSON.stringify({ received })}\n`);
  });
}

function stop(): void {
  for (const c of clients) c.end(true);
  for (const b of buses) b.disconnect();
  process.exit(0);
}

process.once('SIGTERM', stop);
process.once('SIGINT', stop);
main().catch((err: unknown) => {
  process.stderr.write(`floor process: ${(err as Error).message}\n`);
  process.exit(1);
});
