/**
 * Untrusted JSON → values vbat can hold safely. Anyone on the LAN can publish, so a key or topic
 * level must never reach the program's own objects: every object is rebuilt on an empty prototype
 * (no `__proto__` setter, nothing inherited for JSONata or the fast evaluator to read), keys that
 * name JavaScript's object machinery are refused outright, and nesting is bounded so that no
 * recursive walk further down can overflow the stack.
 */

/** Keys and topic levels refused in every input format. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
/** By length, whether a forbidden key has it: most keys are told apart without hashing them. */
const FORBIDDEN_LENGTH: boolean[] = [];
for (const k of FORBIDDEN) FORBIDDEN_LENGTH[k.length] = true;

/** Deeper documents are refused: real BMS payloads nest 3-4 levels. */
export const MAX_DEPTH = 32;

export class InputRefusal extends Error {
  constructor(
    readonly kind: 'key' | 'depth',
    message: string,
  ) {
    super(message);
  }
}

export type Tree = Record<string, unknown>;

/**
 * The prototype of every document object: empty, frozen, and itself without a prototype, so
 * nothing is inherited (no `constructor`, no `__proto__` setter, no `toString`) and nothing can be
 * added to it. Unlike Object.create(null) (dictionary mode in V8), objects on it keep fast
 * properties, so field reads stay inline-cached.
 */
const NOTHING = Object.freeze(Object.create(null) as object);

/** A fresh document object that inherits nothing. */
export function blank(): Tree {
  return Object.create(NOTHING) as Tree;
}

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_LENGTH[key.length] === true && FORBIDDEN.has(key);
}

/** Objects as vbat builds them (never arrays). */
export function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A freshly parsed JSON value made safe in place (nothing else holds it): every object is moved
 * onto the empty prototype, arrays keep theirs; throws InputRefusal for a forbidden key (at any
 * depth, inside arrays too) or nesting deeper than MAX_DEPTH. In place rather than a copy: a copy
 * of every object was, with JSON.parse itself, most of what a message cost the input stage.
 */
export function sanitize(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) throw new InputRefusal('depth', `nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) sanitize(value[i], depth + 1);
    return value;
  }
  // First off Object.prototype, so that for-in sees own keys only, whatever anyone added to it.
  Object.setPrototypeOf(value, NOTHING);
  const tree = value as Tree;
  for (const key in tree) {
    if (isForbiddenKey(key)) throw new InputRefusal('key', `key "${key}" is not allowed`);
    const v = tree[key];
    if (typeof v === 'object' && v !== null) sanitize(v, depth + 1);
  }
  return value;
}
