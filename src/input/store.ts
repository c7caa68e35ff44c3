/**
 * The input document with a freshness date on every leaf. A leaf is as fresh as the message that
 * last delivered it: each carries the time it expires (its arrival plus its source's timeout) and
 * is removed from the document once that time has passed, so a value held from an earlier message
 * (merge, several topics, one value per topic) can never outlive its source's timeout, and a
 * message that delivers nothing refreshes nothing.
 *
 * Changes are made in place inside a transaction and undone on rollback, so a message the mapping
 * rejects leaves no trace, at the cost of one undo record per changed key (no copy of the document).
 */
import { blank, isTree, type Tree } from './sanitize.js';

/** Where a leaf came from and when it stops counting. */
export class LeafInfo {
  constructor(
    readonly expiresAt: number,
    readonly topic: string,
  ) {}
}

/**
 * Undo records of one transaction, in parallel arrays kept from one transaction to the next: a
 * message changes a hundred keys or more (every leaf's LeafInfo), and an object per record was a
 * good part of what each message allocated.
 */
class UndoLog {
  private objs: (Tree | undefined)[] = [];
  private keys: string[] = [];
  private olds: unknown[] = [];
  private flags: number[] = [];
  /** The document's top-level key each change is under (see LeafStore.changes). */
  private roots: string[] = [];
  private length = 0;

  push(obj: Tree, key: string, had: boolean, old: unknown, isInfo: boolean, root: string): void {
    const i = this.length++;
    this.objs[i] = obj;
    this.keys[i] = key;
    this.roots[i] = root;
    this.olds[i] = old;
    this.flags[i] = (had ? 1 : 0) | (isInfo ? 2 : 0);
  }

  /** Every record, newest first; then the log is empty. */
  unwind(fn: (obj: Tree, key: string, had: boolean, old: unknown, isInfo: boolean, root: string) => void): void {
    for (let i = this.length - 1; i >= 0; i--)
      fn(this.objs[i]!, this.keys[i]!, (this.flags[i]! & 1) !== 0, this.olds[i], (this.flags[i]! & 2) !== 0, this.roots[i]!);
    this.clear();
  }

  /** Forget the records (and what they hold on to); a log grown by a huge message is given back. */
  clear(): void {
    if (this.length > MAX_KEPT_UNDO) {
      this.objs = [];
      this.keys = [];
      this.olds = [];
      this.flags = [];
      this.roots = [];
    } else {
      for (let i = 0; i < this.length; i++) {
        this.objs[i] = undefined;
        this.olds[i] = undefined;
      }
    }
    this.length = 0;
  }
}

/** Undo capacity kept between transactions (records). */
const MAX_KEPT_UNDO = 4096;
/** Changed top-level keys listed one by one; beyond this, `changes` says "anything". */
const MAX_LISTED_CHANGES = 256;

/** A leaf one topic delivered is being overwritten by another topic's message. */
export type CollisionHandler = (keys: readonly string[], previous: string, topic: string) => void;

export class LeafStore {
  /** Reported, never refused: which source is right cannot be known here. */
  onCollision?: CollisionHandler;

  /** What mappings read: null-prototype objects, leaves are primitives or arrays. */
  private doc: Tree = blank();
  /** Same shape as `doc`, with a LeafInfo where `doc` has a leaf. */
  private info: Tree = blank();
  private readonly undo = new UndoLog();
  /** Inside a transaction: every change is recorded for rollback. */
  private recording = false;
  private nextExpiry = Infinity;
  /** Leaves per topic: how many topics the document holds, without walking it. */
  private readonly perTopic = new Map<string, number>();
  /** Top-level keys under which the document changed since settleChanges(); see `changes`. */
  private readonly changedRoots = new Set<string>();
  private changedAll = true;

  get document(): Tree {
    return this.doc;
  }

  /**
   * The top-level keys under which a value was written, removed or restored (rollback, expiry)
   * since settleChanges(); undefined: anything may have changed (the start, after clear(), or too
   * many keys to list). An evaluator need not re-read inputs under keys that are not listed.
   */
  get changes(): ReadonlySet<string> | undefined {
    return this.changedAll ? undefined : this.changedRoots;
  }

  /** Everything the last evaluation read is now known to it: start listing changes afresh. */
  settleChanges(): void {
    this.changedRoots.clear();
    this.changedAll = false;
  }

  private touch(root: string): void {
    if (this.changedAll) return;
    this.changedRoots.add(root);
    // A hostile payload may bring thousands of keys: past a bound, say "anything" instead.
    if (this.changedRoots.size > MAX_LISTED_CHANGES) this.everythingChanged();
  }

  private everythingChanged(): void {
    this.changedAll = true;
    this.changedRoots.clear();
  }

  get topicCount(): number {
    return this.perTopic.size;
  }

  hasTopic(topic: string): boolean {
    return this.perTopic.has(topic);
  }

  begin(): void {
    this.undo.clear();
    this.recording = true;
  }

  commit(): void {
    this.undo.clear();
    this.recording = false;
  }

  rollback(): void {
    if (!this.recording) return;
    this.recording = false;
    this.undo.unwind((obj, key, had, old, isInfo, root) => this.write(obj, key, had, old, isInfo, root));
  }

  /** Set the leaf at `keys`, replacing whatever was there (a leaf or a whole branch). */
  set(keys: readonly string[], value: unknown, leaf: LeafInfo): void {
    let doc = this.doc;
    let info = this.info;
    const last = keys.length - 1;
    for (let i = 0; i < last; i++) {
      const k = keys[i]!;
      const held = info[k];
      if (held instanceof LeafInfo && held.topic !== leaf.topic) this.onCollision?.(keys.slice(0, i + 1), held.topic, leaf.topic);
      if (!isTree(doc[k]) || !isTree(info[k]) || info[k] instanceof LeafInfo) {
        this.put(doc, k, blank(), true, false, keys[0]!);
        this.put(info, k, blank(), true, true, keys[0]!);
      }
      doc = doc[k] as Tree;
      info = info[k] as Tree;
    }
    const held = info[keys[last]!];
    if (this.onCollision && held !== undefined) {
      const other =
        held instanceof LeafInfo
          ? held.topic !== leaf.topic
            ? held.topic
            : undefined
          : isTree(held)
            ? otherTopic(held, leaf.topic)
            : undefined;
      if (other !== undefined) this.onCollision(keys, other, leaf.topic);
    }
    this.put(doc, keys[last]!, value, true, false, keys[0]!);
    this.put(info, keys[last]!, leaf, true, true, keys[0]!);
    if (leaf.expiresAt < this.nextExpiry) this.nextExpiry = leaf.expiresAt;
  }

  /**
   * Merge every leaf of a sanitized object (depth bounded by sanitize()), all from one message;
   * one descent per branch rather than one walk from the root per leaf. Returns the leaf count.
   */
  merge(tree: Tree, leaf: LeafInfo): number {
    if (leaf.expiresAt < this.nextExpiry) this.nextExpiry = leaf.expiresAt;
    return this.mergeInto(this.doc, this.info, tree, leaf, []);
  }

  private mergeInto(doc: Tree, info: Tree, tree: Tree, leaf: LeafInfo, path: string[]): number {
    let count = 0;
    // for-in, not Object.keys: a sanitized object inherits nothing, so it yields the same own keys
    // in the same order, from V8's enum cache instead of a new array per object per message.
    for (const k in tree) {
      const v = tree[k];
      const held = info[k];
      const root = path.length ? path[0]! : k;
      if (this.onCollision && held instanceof LeafInfo && held.topic !== leaf.topic) this.onCollision([...path, k], held.topic, leaf.topic);
      if (isTree(v)) {
        if (!isTree(doc[k]) || !isTree(info[k]) || info[k] instanceof LeafInfo) {
          this.put(doc, k, blank(), true, false, root);
          this.put(info, k, blank(), true, true, root);
        }
        path.push(k);
        count += this.mergeInto(doc[k] as Tree, info[k] as Tree, v, leaf, path);
        path.pop();
      } else if (held instanceof LeafInfo && held.topic === leaf.topic) {
        this.refresh(doc, info, k, v, held, leaf, root);
        count++;
      } else {
        if (this.onCollision && isTree(held) && !(held instanceof LeafInfo)) {
          const other = otherTopic(held, leaf.topic);
          if (other !== undefined) this.onCollision([...path, k], other, leaf.topic);
        }
        this.put(doc, k, v, true, false, root);
        this.put(info, k, leaf, true, true, root);
        count++;
      }
    }
    return count;
  }

  /** Remove the leaf at `keys` if `topic` delivered it (unless with `keep`); empty branches go with it. */
  removeOwned(keys: readonly string[], topic: string, keep?: LeafInfo): void {
    const docs: Tree[] = [this.doc];
    const infos: Tree[] = [this.info];
    for (let i = 0; i < keys.length - 1; i++) {
      const d = docs[i]![keys[i]!];
      const f = infos[i]![keys[i]!];
      if (!isTree(d) || !isTree(f) || f instanceof LeafInfo) return;
      docs.push(d);
      infos.push(f);
    }
    const lastKey = keys[keys.length - 1]!;
    const leaf = infos[infos.length - 1]![lastKey];
    if (!(leaf instanceof LeafInfo) || leaf.topic !== topic || leaf === keep) return;
    for (let i = keys.length - 1; i >= 0; i--) {
      this.put(docs[i]!, keys[i]!, undefined, false, false, keys[0]!);
      this.put(infos[i]!, keys[i]!, undefined, false, true, keys[0]!);
      if (i > 0 && Object.keys(infos[i]!).length > 0) break;
    }
  }

  /** Drop every leaf whose time is up; true when anything was dropped. Not undoable. */
  expire(now: number): boolean {
    if (now < this.nextExpiry) return false;
    const saved = this.recording;
    this.recording = false;
    const { dropped, next } = this.dropWhere((f) => f.expiresAt <= now);
    this.nextExpiry = next;
    this.recording = saved;
    return dropped;
  }

  /**
   * Drop every leaf a topic matching `fromTopic` delivered (a source went offline, a Venus path
   * vanished); true when anything was dropped. Undoable inside a transaction.
   */
  dropFrom(fromTopic: (topic: string) => boolean): boolean {
    // nextExpiry stays as it is: a rollback may bring the dropped leaves back.
    return this.dropWhere((f) => fromTopic(f.topic)).dropped;
  }

  /** Remove the leaves `drop` picks and the branches left empty; `next`: the earliest expiry kept. */
  private dropWhere(drop: (leaf: LeafInfo) => boolean): { dropped: boolean; next: number } {
    let next = Infinity;
    let dropped = false;
    const walk = (doc: Tree, info: Tree, under: string | undefined): void => {
      for (const k of Object.keys(info)) {
        const f = info[k];
        const root = under ?? k;
        if (f instanceof LeafInfo) {
          if (drop(f)) {
            this.put(doc, k, undefined, false, false, root);
            this.put(info, k, undefined, false, true, root);
            dropped = true;
          } else if (f.expiresAt < next) next = f.expiresAt;
        } else if (isTree(f)) {
          walk(doc[k] as Tree, f, root);
          if (Object.keys(f).length === 0) {
            this.put(doc, k, undefined, false, false, root);
            this.put(info, k, undefined, false, true, root);
          }
        }
      }
    };
    walk(this.doc, this.info, undefined);
    return { dropped, next };
  }

  /** Forget everything (the battery went stale: it is rebuilt only from data that comes after). */
  clear(): void {
    this.doc = blank();
    this.info = blank();
    this.undo.clear();
    this.recording = false;
    this.nextExpiry = Infinity;
    this.perTopic.clear();
    this.everythingChanged();
  }

  /** The one place `doc` and `info` change: records undo and keeps the per-topic counts. */
  private put(obj: Tree, key: string, value: unknown, present: boolean, isInfo: boolean, root: string): void {
    const had = key in obj;
    const old = obj[key];
    if (had === present && old === value) return;
    if (this.recording) this.undo.push(obj, key, had, old, isInfo, root);
    this.write(obj, key, present, value, isInfo, root);
  }

  /**
   * put() for the common case, a topic delivering its own leaf again: `held` is its LeafInfo, so
   * the document has the key and the per-topic counts stay. Each lookup on these prototype-less
   * (dictionary) objects is a hash probe; this does three per leaf where two put() calls do seven.
   */
  private refresh(doc: Tree, info: Tree, key: string, value: unknown, held: LeafInfo, leaf: LeafInfo, root: string): void {
    const old = doc[key];
    if (old !== value) {
      if (this.recording) this.undo.push(doc, key, true, old, false, root);
      doc[key] = value;
      this.touch(root);
    }
    if (held !== leaf) {
      if (this.recording) this.undo.push(info, key, true, held, true, root);
      info[key] = leaf;
    }
  }

  private write(obj: Tree, key: string, present: boolean, value: unknown, isInfo: boolean, root: string): void {
    if (!isInfo) this.touch(root);
    const old = obj[key];
    // The common case, a topic refreshing its own leaf, leaves the counts as they are.
    const same = present && old instanceof LeafInfo && value instanceof LeafInfo && old.topic === value.topic;
    if (isInfo && !same) this.count(old, -1);
    if (present) obj[key] = value;
    else delete obj[key];
    if (isInfo && present && !same) this.count(value, +1);
  }

  /** Adjust the per-topic leaf counts for a LeafInfo or an info subtree (document nodes: no-op). */
  private count(node: unknown, by: number): void {
    if (node instanceof LeafInfo) {
      const n = (this.perTopic.get(node.topic) ?? 0) + by;
      if (n > 0) this.perTopic.set(node.topic, n);
      else this.perTopic.delete(node.topic);
    } else if (isTree(node)) {
      for (const k of Object.keys(node)) this.count(node[k], by);
    }
  }
}

/** A topic other than `topic` that delivered a leaf of an info subtree, if any (depth bounded by sanitize()). */
function otherTopic(info: Tree, topic: string): string | undefined {
  for (const k of Object.keys(info)) {
    const f = info[k];
    if (f instanceof LeafInfo) {
      if (f.topic !== topic) return f.topic;
    } else if (isTree(f)) {
      const t = otherTopic(f, topic);
      if (t !== undefined) return t;
    }
  }
  return undefined;
}
