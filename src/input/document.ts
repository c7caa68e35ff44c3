/**
 * The input stage: MQTT messages → the input document a mapping reads. `json` documents are the
 * payload (or the overlay of several topics' payloads); `tree` documents hold one leaf per topic,
 * for BMSes that publish one plain value per topic (ESPHome, Tasmota, Venus's own MQTT bridge).
 *
 * Every message is hostile until proven otherwise: payloads are size-checked before parsing,
 * rebuilt without prototypes, and refused whole for a forbidden key or topic level. Every leaf
 * carries the expiry of the message that delivered it (see store.ts), and a battery applies its
 * messages inside a transaction so that one the mapping rejects leaves nothing behind.
 */
import type { InputSpec } from './spec.js';
import { blank, InputRefusal, isForbiddenKey, isTree, sanitize, type Tree } from './sanitize.js';
import { LeafInfo, LeafStore, type CollisionHandler } from './store.js';
import { documentKeys, topicMatches } from './topics.js';

/** Why a message was refused, for grouping log lines (one rate limit per kind). */
export type RefusalKind = 'size' | 'empty' | 'json' | 'shape' | 'topic' | 'key' | 'depth' | 'topics';

/**
 * `leaves`: how many values the message delivered (0: it brings nothing fresh). `vanished`: a
 * Venus OS message saying the value (or its whole service) is gone; what the topic delivered
 * before was removed.
 */
export type Accepted = { ok: true; doc: unknown; leaves: number; vanished?: boolean } | { ok: false; kind: RefusalKind; reason: string };

export interface DocumentOptions {
  input: InputSpec;
  /** The battery's topic filters; a message is keyed by the first that matches. */
  topics: string[];
  /** Larger payloads are refused (protects a small GX device). */
  maxPayloadBytes?: number;
  /** Messages on further topics are refused once the document holds this many. */
  maxTopics?: number;
  /** Two topics wrote the same document key (they would overwrite each other's values). */
  onCollision?: CollisionHandler;
  /** The pack a topic belongs to: its data is put under `packs.<pack>` (never colliding with another pack's). */
  packOf?: (topic: string) => string | undefined;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
export const DEFAULT_MAX_TOPICS = 1000;

export class DocumentBuilder {
  private readonly format: 'json' | 'tree';
  private readonly merge: boolean;
  private readonly store = new LeafStore();
  /** json without merge: the leaves each topic's last payload delivered, replaced by the next. */
  private readonly owned = new Map<string, Tree>();
  /** Undo for `owned` within a transaction. */
  private ownedUndo?: [string, Tree | undefined][];
  /** tree: each topic's document keys (see leafKeysOf). */
  private readonly leafKeys = new Map<string, readonly string[]>();
  private latestTree: Tree = blank();
  /** `aliased`: latestTree is a message's own payload, which `owned` may hold too. */
  private latestState: 'empty' | 'aliased' | 'own' = 'empty';
  private inTransaction = false;
  private readonly max: number;
  private readonly maxTopics: number;

  constructor(private readonly opts: DocumentOptions) {
    this.format = opts.input.format ?? 'json';
    this.merge = opts.input.merge ?? false;
    this.max = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.maxTopics = opts.maxTopics ?? DEFAULT_MAX_TOPICS;
    this.store.onCollision = opts.onCollision;
  }

  /** The current document: every leaf that has not expired. */
  get document(): Tree {
    return this.store.document;
  }

  /** Only what the messages of the current (or last) transaction delivered. */
  get latest(): Tree {
    return this.latestTree;
  }

  /** Top-level document keys changed since settleChanges() (undefined: anything may have); see LeafStore. */
  get changes(): ReadonlySet<string> | undefined {
    return this.store.changes;
  }

  /** An evaluation has read the document as it is now. */
  settleChanges(): void {
    this.store.settleChanges();
  }

  /** How many topics the document holds data from. */
  get topicCount(): number {
    return this.store.topicCount;
  }

  begin(): void {
    this.store.begin();
    this.ownedUndo = [];
    this.resetLatest();
    this.inTransaction = true;
  }

  commit(): void {
    this.store.commit();
    this.ownedUndo = undefined;
    this.inTransaction = false;
  }

  /** Undo every message of the transaction. */
  rollback(): void {
    this.store.rollback();
    for (const [topic, old] of (this.ownedUndo ?? []).reverse()) {
      if (old) this.owned.set(topic, old);
      else this.owned.delete(topic);
    }
    this.ownedUndo = undefined;
    this.resetLatest();
    this.inTransaction = false;
  }

  private resetLatest(): void {
    this.latestTree = blank();
    this.latestState = 'empty';
  }

  /** `latest`, safe to write to. */
  private ownLatest(): Tree {
    if (this.latestState === 'aliased') {
      const copy = blank();
      mergePlain(copy, this.latestTree);
      this.latestTree = copy;
    }
    this.latestState = 'own';
    return this.latestTree;
  }

  /** Drop leaves whose source timeout has run out; true when anything was dropped. */
  expire(now: number): boolean {
    if (!this.store.expire(now)) return false;
    this.latestTree = stillHeld(this.latestTree, this.store.document);
    this.latestState = 'own';
    return true;
  }

  /** Drop every leaf delivered on a topic `filter` matches (its source went offline); true when any was. */
  dropFrom(filter: string): boolean {
    if (!this.store.dropFrom((t) => topicMatches(filter, t))) return false;
    for (const topic of [...this.owned.keys()]) {
      if (!topicMatches(filter, topic)) continue;
      this.ownedUndo?.push([topic, this.owned.get(topic)]);
      this.owned.delete(topic);
    }
    this.latestTree = stillHeld(this.latestTree, this.store.document);
    this.latestState = 'own';
    return true;
  }

  /** Forget all data (the battery went stale). */
  clear(): void {
    this.store.clear();
    this.owned.clear();
    this.resetLatest();
  }

  /**
   * Take one message, its leaves valid until `expiresAt` (ms). Outside a transaction it is applied
   * at once and is the whole of `latest`. With `vanish` (a Venus OS source), an empty payload or a
   * null value is dbus-flashmq saying the service went away or the path is invalid: it removes what
   * the topic delivered before instead of being refused.
   */
  accept(topic: string, payload: Buffer | string, expiresAt = Infinity, vanish = false): Accepted {
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (size > this.max) return refuse('size', `payload of ${size} bytes is over the limit of ${this.max}`);
    if (!this.store.hasTopic(topic) && this.store.topicCount >= this.maxTopics) {
      return refuse('topics', `the document already holds data from ${this.maxTopics} topics; new topic ${topic} ignored`);
    }
    if (!this.inTransaction) this.resetLatest();
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');
    try {
      return this.format === 'tree' ? this.acceptLeaf(topic, text, expiresAt, vanish) : this.acceptJson(topic, text, expiresAt, vanish);
    } catch (err) {
      if (err instanceof InputRefusal) return refuse(err.kind, err.message);
      throw err;
    }
  }

  private acceptJson(topic: string, text: string, expiresAt: number, vanish: boolean): Accepted {
    if (vanish && text.trim() === '') return this.vanishJson(topic);
    if (text.trim() === '') return refuse('empty', 'empty payload');
    let value: unknown;
    try {
      value = unwrap(sanitize(JSON.parse(text)), this.opts.input.unwrap);
    } catch (err) {
      if (err instanceof InputRefusal) throw err;
      return refuse('json', `not valid JSON: ${(err as Error).message}`);
    }
    if (vanish && value === null) return this.vanishJson(topic);
    if (!isTree(value))
      return refuse('shape', `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    const pack = this.opts.packOf?.(topic);
    const tree = pack === undefined ? value : underPack(pack, value);
    const info = new LeafInfo(expiresAt, topic);
    let count: number;
    if (this.merge) {
      count = this.store.merge(tree, info);
    } else {
      // The payload replaces this topic's previous one; other topics' leaves stay.
      // Set the new leaves, then remove the previous payload's leaves this one did not deliver
      // again: a leaf that stays is rewritten in place, never deleted and put back (a key deleted
      // from and re-added to a prototype-less object is two hash-table updates, and a change).
      const previous = this.owned.get(topic);
      count = forEachLeaf(tree, (keys, v) => this.store.set(keys, v, info));
      if (previous) forEachLeaf(previous, (keys) => this.store.removeOwned(keys, topic, info));
      this.ownedUndo?.push([topic, previous]);
      if (count) this.owned.set(topic, tree);
      else this.owned.delete(topic);
    }
    if (this.latestState === 'empty') {
      this.latestTree = tree; // the message's own (sanitized) tree; copied before anything merges into it
      this.latestState = 'aliased';
    } else mergePlain(this.ownLatest(), tree);
    return { ok: true, doc: this.store.document, leaves: count };
  }

  private vanishJson(topic: string): Accepted {
    this.store.dropFrom((t) => t === topic);
    if (this.owned.has(topic)) {
      this.ownedUndo?.push([topic, this.owned.get(topic)]);
      this.owned.delete(topic);
    }
    this.latestTree = stillHeld(this.latestTree, this.store.document);
    this.latestState = 'own';
    return { ok: true, doc: this.store.document, leaves: 0, vanished: true };
  }

  private acceptLeaf(topic: string, text: string, expiresAt: number, vanish: boolean): Accepted {
    const keys = this.leafKeysOf(topic);
    if (typeof keys === 'string') return refuse('topic', keys);
    if (vanish && text.trim() === '') return this.vanishLeaf(keys, topic);
    let value: unknown;
    try {
      value = unwrap(sanitize(parseLeaf(text)), this.opts.input.unwrap);
    } catch (err) {
      if (err instanceof InputRefusal) throw err;
      return refuse('json', `not valid JSON inside "${this.opts.input.unwrap}": ${(err as Error).message}`);
    }
    if (value === undefined) return refuse('empty', 'empty payload');
    if (vanish && value === null) return this.vanishLeaf(keys, topic);
    this.store.set(keys, value, new LeafInfo(expiresAt, topic));
    setPlain(this.ownLatest(), keys, value);
    return { ok: true, doc: this.store.document, leaves: 1 };
  }

  /**
   * The document keys of a topic's leaf, or why the topic gives none. Remembered per topic, since
   * a tree source re-sends the same topics on every update (splitting each against every filter
   * was a tenth of the input stage's time); only keys are kept, never a refusal, and the memory
   * is bounded: a publisher inventing topics without end only empties it now and then.
   */
  private leafKeysOf(topic: string): readonly string[] | string {
    const known = this.leafKeys.get(topic);
    if (known !== undefined) return known;
    const filter = this.opts.topics.find((f) => topicMatches(f, topic));
    const levels = filter ? documentKeys(filter, topic) : topic.split('/');
    if (levels.length === 0 || levels.some((k) => k === '')) return `topic ${topic} gives no document key`;
    const pack = this.opts.packOf?.(topic);
    const keys = pack === undefined ? levels : ['packs', pack, ...levels];
    const bad = keys.find(isForbiddenKey);
    if (bad !== undefined) return `topic ${topic}: level "${bad}" is not allowed`;
    if (this.leafKeys.size >= 2 * this.maxTopics) this.leafKeys.clear();
    this.leafKeys.set(topic, keys);
    return keys;
  }

  private vanishLeaf(keys: readonly string[], topic: string): Accepted {
    this.store.removeOwned(keys, topic);
    this.latestTree = stillHeld(this.latestTree, this.store.document);
    this.latestState = 'own';
    return { ok: true, doc: this.store.document, leaves: 0, vanished: true };
  }
}

/** {packs: {<pack>: value}}, built as sanitized trees are (no prototypes). */
function underPack(pack: string, value: Tree): Tree {
  const inner = blank();
  inner[pack] = value;
  const outer = blank();
  outer.packs = inner;
  return outer;
}

function refuse(kind: RefusalKind, reason: string): Accepted {
  return { ok: false, kind, reason };
}

/**
 * Calls `fn` for every leaf of a sanitized object (the key array is reused: copy to keep it);
 * returns how many there were. Depth is bounded by sanitize().
 */
function forEachLeaf(tree: Tree, fn: (keys: string[], value: unknown) => void): number {
  const keys: string[] = [];
  let count = 0;
  const walk = (node: Tree): void => {
    for (const k of Object.keys(node)) {
      const v = node[k];
      keys.push(k);
      if (isTree(v)) walk(v);
      else {
        count++;
        fn(keys, v);
      }
      keys.pop();
    }
  };
  walk(tree);
  return count;
}

/** The leaves of `latest` that `doc` still holds (the others expired). */
function stillHeld(latest: Tree, doc: Tree): Tree {
  const out = blank();
  for (const k of Object.keys(latest)) {
    const v = latest[k];
    const d = doc[k];
    if (isTree(v)) {
      if (isTree(d)) {
        const kept = stillHeld(v, d);
        if (Object.keys(kept).length) out[k] = kept;
      }
    } else if (d === v && k in doc) out[k] = v;
  }
  return out;
}

/** Merge `value` into `tree` as the store merges it: objects go key by key, an object replaces a leaf. */
function mergePlain(tree: Tree, value: Tree): void {
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (isTree(v)) {
      if (!isTree(tree[k])) tree[k] = blank();
      mergePlain(tree[k] as Tree, v);
    } else tree[k] = v;
  }
}

function setPlain(tree: Tree, keys: readonly string[], value: unknown): void {
  let node = tree;
  for (let i = 0; i < keys.length - 1; i++) {
    const next = node[keys[i]!];
    node = isTree(next) ? next : ((node[keys[i]!] = blank()) as Tree);
  }
  node[keys[keys.length - 1]!] = value;
}

/**
 * A plain-value payload: JSON when it parses ("52.70", "true", "{...}"), else the text ("ON").
 * Text that cannot start a JSON value is never handed to JSON.parse: a failed parse builds a
 * SyntaxError with its stack and message, about 20 µs each, and ESPHome's switches, states and
 * "nan" readings are such text on every update (16 of the JK capture's 88 topics).
 */
export function parseLeaf(text: string): unknown {
  const t = text.trim();
  if (t === '') return undefined;
  if (!mayBeJson(t)) return text;
  try {
    return JSON.parse(t);
  } catch {
    return text;
  }
}

/** Whether JSON.parse could accept `t` (trimmed, not empty): only these start a JSON value. */
function mayBeJson(t: string): boolean {
  const c = t.charCodeAt(0);
  if (c === 0x74 /* t */) return t === 'true';
  if (c === 0x66 /* f */) return t === 'false';
  if (c === 0x6e /* n */) return t === 'null';
  return c === 0x7b /* { */ || c === 0x5b /* [ */ || c === 0x22 /* " */ || c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39);
}

/** Strip a {"<key>": X} wrapper; X holding JSON text is parsed (dbus-serialbattery's JsonData). */
export function unwrap(value: unknown, key: string | undefined): unknown {
  if (!key || !isTree(value) || !Object.hasOwn(value, key)) return value;
  const inner = value[key];
  if (typeof inner === 'string') {
    const t = inner.trim();
    if (t.startsWith('{') || t.startsWith('[')) return sanitize(JSON.parse(t));
  }
  return inner;
}
