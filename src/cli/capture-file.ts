/**
 * Capture files: recorded MQTT messages that `vbat check` replays. Three shapes are read:
 *
 * - JSON lines, one message per line: {"topic": "bms/soc", "payload": "63", "time": 1764763200.5,
 *   "retained": false}; payload may be any JSON value (taken as its JSON text), time is seconds
 *   (epoch or from any start; only differences count) or an ISO date, both optional;
 * - `mosquitto_sub -v` output: `topic payload` per line, optionally preceded by an ISO time
 *   (`mosquitto_sub -v -F '%I %t %p'`);
 * - a JSON object of topic → payload text (untimed).
 *
 * Anything else is one payload. Messages without a time arrive together, in file order.
 */

export interface CapturedMessage {
  topic: string;
  payload: string;
  /** Milliseconds; absent when the capture has no times. */
  time?: number;
  retained: boolean;
}

const TOPIC = /^[^\s{}[\]"#+]+$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?$/;

/** The messages of a capture, or undefined when the text is a single payload. */
export function captureMessages(text: string): CapturedMessage[] | undefined {
  const whole = parseJson(text);
  if (whole.ok) {
    const one = jsonLine(whole.value);
    if (one) return [one];
    return topicObject(whole.value);
  }
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return undefined;
  const asJson = lines.map((l) => {
    const p = parseJson(l);
    return p.ok ? jsonLine(p.value) : undefined;
  });
  if (asJson.every((m) => m !== undefined)) return asJson;
  const asMosquitto = lines.map(mosquittoLine);
  if (asMosquitto.every((m) => m !== undefined)) return asMosquitto;
  return undefined;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function jsonLine(v: unknown): CapturedMessage | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.topic !== 'string' || !TOPIC.test(o.topic) || !('payload' in o)) return undefined;
  const payload = typeof o.payload === 'string' ? o.payload : JSON.stringify(o.payload);
  const time = typeof o.time === 'number' ? o.time * 1000 : typeof o.time === 'string' ? Date.parse(o.time) : undefined;
  return { topic: o.topic, payload, retained: o.retained === true, ...(time !== undefined && Number.isFinite(time) ? { time } : {}) };
}

function topicObject(v: unknown): CapturedMessage[] | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const entries = Object.entries(v);
  if (entries.length === 0 || !entries.every(([k, p]) => k.includes('/') && TOPIC.test(k) && typeof p === 'string')) return undefined;
  return entries.map(([topic, payload]) => ({ topic, payload: payload as string, retained: false }));
}

function mosquittoLine(line: string): CapturedMessage | undefined {
  let rest = line;
  let time: number | undefined;
  const first = /^(\S+) /.exec(line)?.[1];
  if (first && ISO.test(first)) {
    time = Date.parse(first);
    rest = line.slice(first.length + 1);
  }
  const space = rest.indexOf(' ');
  const topic = space < 0 ? rest : rest.slice(0, space);
  if (!TOPIC.test(topic)) return undefined;
  const payload = space < 0 ? '' : rest.slice(space + 1);
  return { topic, payload, retained: false, ...(time !== undefined && Number.isFinite(time) ? { time } : {}) };
}
