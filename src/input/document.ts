/**
 * The input stage: MQTT messages → the input document a mapping reads. `json` documents are the
 * payload (or the merge of several topics' payloads); `tree` documents hold one leaf per topic,
 * for BMSes that publish one plain value per topic (ESPHome, Tasmota, Venus's own MQTT bridge).
 */
import type { InputSpec } from '../mapping/index.js';
import { documentKeys, topicMatches } from './topics.js';

/** Why a message was refused, for grouping log lines (one rate limit per kind). */
export type RefusalKind = 'size' | 'empty' | 'json' | 'shape' | 'topic';

export type Accepted = { ok: true; doc: unknown } | { ok: false; kind: RefusalKind; reason: string };

export interface DocumentOptions {
  input: InputSpec;
  /** The battery's topic filters; a message is keyed by the first that matches. */
  topics: string[];
  /** Larger payloads are refused (protects a small GX device). */
  maxPayloadBytes?: number;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

export class DocumentBuilder {
  private readonly format: 'json' | 'tree';
  private readonly perTopic = new Map<string, unknown>();
  /** tree format: each topic's leaf, so a source's leaves can be dropped when it goes stale. */
  private readonly leaves = new Map<string, { keys: string[]; value: unknown }>();
  private tree: Record<string, unknown> = {};
  private merged: unknown;
  private readonly max: number;

  constructor(private readonly opts: DocumentOptions) {
    this.format = opts.input.format ?? 'json';
    this.max = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** The current document. */
  get document(): unknown {
    return this.format === 'tree' ? this.tree : this.merged;
  }

  /** Take one message; on success the returned document includes it. */
  accept(topic: string, payload: Buffer | string): Accepted {
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (size > this.max) return { ok: false, kind: 'size', reason: `payload of ${size} bytes is over the limit of ${this.max}` };
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    return this.format === 'tree' ? this.acceptLeaf(topic, text) : this.acceptJson(topic, text);
  }

  private acceptJson(topic: string, text: string): Accepted {
    if (text.trim() === '') return { ok: false, kind: 'empty', reason: 'empty payload' };
    let value: unknown;
    try {
      value = unwrap(JSON.parse(text), this.opts.input.unwrap);
    } catch (err) {
      return { ok: false, kind: 'json', reason: `not valid JSON: ${(err as Error).message}` };
    }
    if (!isObject(value)) return { ok: false, kind: 'shape', reason: `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` };
    const previous = this.perTopic.get(topic);
    // The stored document is ours alone (parsed here, never handed out for keeps), so merging
    // in place is safe and spares a copy of the whole payload per message.
    this.perTopic.set(topic, this.opts.input.merge && isObject(previous) ? mergeInto(previous, value) : value);
    // One topic (the usual case): the document is that payload, no copying.
    this.merged = this.perTopic.size === 1 ? this.perTopic.get(topic) : [...this.perTopic.values()].reduce((a, b) => mergeDeep(a, b), {});
    return { ok: true, doc: this.merged };
  }

  private acceptLeaf(topic: string, text: string): Accepted {
    const filter = this.opts.topics.find((f) => topicMatches(f, topic));
    const keys = filter ? documentKeys(filter, topic) : topic.split('/');
    if (keys.length === 0 || keys.some((k) => k === '')) return { ok: false, kind: 'topic', reason: `topic ${topic} gives no document key` };
    let value = parseLeaf(text);
    try {
      value = unwrap(value, this.opts.input.unwrap);
    } catch (err) {
      return { ok: false, kind: 'json', reason: `not valid JSON inside "${this.opts.input.unwrap}": ${(err as Error).message}` };
    }
    this.leaves.set(topic, { keys, value });
    setLeaf(this.tree, keys, value);
    return { ok: true, doc: this.tree };
  }

  /** Drop what the topics matching `filter` contributed (a source that went stale). */
  forget(filter: string): void {
    for (const t of [...this.perTopic.keys()]) if (topicMatches(filter, t)) this.perTopic.delete(t);
    this.merged = this.perTopic.size <= 1 ? [...this.perTopic.values()][0] : [...this.perTopic.values()].reduce((a, b) => mergeDeep(a, b), {});
    let dropped = false;
    for (const t of [...this.leaves.keys()]) if (topicMatches(filter, t)) dropped = this.leaves.delete(t) || dropped;
    if (dropped) {
      this.tree = {};
      for (const leaf of this.leaves.values()) setLeaf(this.tree, leaf.keys, leaf.value);
    }
  }
}

function setLeaf(tree: Record<string, unknown>, keys: string[], value: unknown): void {
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    node = isObject(next) ? next : (node[k] = {});
  }
  node[keys[keys.length - 1]!] = value;
}

/** A plain-value payload: JSON when it parses ("52.70", "true", "{...}"), else the text ("ON"). */
export function parseLeaf(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return text;
  }
}

/** Strip a {"<key>": X} wrapper; X holding JSON text is parsed (dbus-serialbattery's JsonData). */
export function unwrap(value: unknown, key: string | undefined): unknown {
  if (!key || !isObject(value) || !(key in value)) return value;
  const inner = value[key];
  if (typeof inner === 'string') {
    const t = inner.trim();
    if (t.startsWith('{') || t.startsWith('[')) return JSON.parse(t);
  }
  return inner;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merge `b` into `a` in place (objects key by key, anything else replaces); returns `a`. */
export function mergeInto(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  for (const k in b) {
    const v = b[k];
    const old = a[k];
    a[k] = isObject(old) && isObject(v) ? mergeInto(old, v) : v;
  }
  return a;
}

/** A new object with `b` merged into `a`: objects merge key by key, anything else replaces. */
export function mergeDeep(a: unknown, b: unknown): unknown {
  if (!isObject(a) || !isObject(b)) return b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = mergeDeep(a[k], v);
  return out;
}
