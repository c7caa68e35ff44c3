/**
 * `vbat capture`: record what a BMS publishes into a capture file that `vbat check` replays — the
 * first step of writing a mapping. One JSON line per message: topic, payload text, time (seconds
 * since the epoch) and the retained flag, so `check` sees the messages as `run` would get them.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { hostname } from 'node:os';
import { loadConfig } from '../config/index.js';
import { UsageError } from '../errors.js';
import { Logger } from '../log.js';
import { MqttSource } from '../mqtt/index.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';

export const CAPTURE_COMMAND = {
  name: 'capture',
  usage: ['capture --topic FILTER [--broker URL | --config FILE] [--seconds N] [-o FILE]'],
  summary: 'Record live MQTT messages into a capture file for vbat check.',
  description: [
    'Subscribes to the topic filter and writes every message as one JSON line — {"topic", "payload", "time", "retained"} — to the output file (or standard output), for --seconds seconds or until Ctrl-C. vbat check replays such a file in order, as vbat run would receive it.',
    "The broker, credentials and TLS settings come from --broker or from a config's mqtt section (--config).",
  ],
  flags: {
    topic: { type: 'string', arg: 'FILTER', help: "the MQTT topic filter to record (+ and # allowed), e.g. 'jk-bms/#'" },
    broker: { type: 'string', arg: 'URL', help: 'MQTT broker (default mqtt://127.0.0.1:1883, or the config’s)' },
    config: { type: 'string', arg: 'FILE', help: 'take the broker, credentials and TLS settings from this config' },
    seconds: { type: 'string', arg: 'N', help: 'stop after N seconds (default 30)' },
    output: { type: 'string', arg: 'FILE', short: 'o', help: 'write the capture here instead of to standard output' },
  },
  notes: ["Example:\n  vbat capture --broker mqtt://192.168.1.10 --topic 'jk-bms/#' -o capture.jsonl"],
} satisfies CommandSpec;

export async function capture(args: string[]): Promise<number> {
  const { values } = parseCommand(CAPTURE_COMMAND, args);
  if (values.help) {
    process.stdout.write(helpText(CAPTURE_COMMAND));
    return 0;
  }
  if (!values.topic) throw new UsageError('needs --topic FILTER: what to record');
  const seconds = values.seconds === undefined ? 30 : Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`--seconds expects a positive number, got "${values.seconds}"`);
  // The config loader checks the filter and reads credentials and TLS files as vbat run does.
  const config = loadConfig(values.config, { broker: values.broker, topic: values.topic });
  const log = new Logger(config.logLevel);
  const out: WriteStream | NodeJS.WriteStream = values.output ? createWriteStream(values.output) : process.stdout;
  let count = 0;
  const topics = new Set<string>();
  const source = new MqttSource({
    config: config.mqtt,
    clientId: `vbat_capture_${hostname()}_${process.pid}`,
    topics: [values.topic],
    log,
    onMessage: (m) => {
      count++;
      topics.add(m.topic);
      const line = { topic: m.topic, payload: m.payload.toString('utf8'), time: Date.now() / 1000, retained: m.retained };
      out.write(`${JSON.stringify(line)}\n`);
    },
  });
  source.start();
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, seconds * 1000);
    const stop = () => {
      clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await source.stop();
  if (out !== process.stdout) await new Promise<void>((resolve) => (out as WriteStream).end(resolve));
  process.stderr.write(`captured ${count} message${count === 1 ? '' : 's'} on ${topics.size} topic${topics.size === 1 ? '' : 's'}\n`);
  return 0;
}
