/**
 * Body encoders for the fixed Victron BusItem signatures (contract §1.2-1.3):
 *   `v`          a path value (invalid = variant holding an empty `ai`)
 *   `a{sv}`      {Value: v, Text: v(s)} of one item (PropertiesChanged)
 *   `a{sa{sv}}`  {'/path': {Value, Text}} (GetItems, ItemsChanged)
 *   `v(a{sv})`, `v(a{ss})`  subtree values / texts with relative keys (tree GetValue/GetText)
 *
 * Values reaching this file were already coerced to their path's type (values.ts), so the
 * encoders trust them.
 */
import type { DbusType, PathValue } from '../venus/types.js';
import type { WireWriter } from './wire.js';

/** What the encoders need to know about an item. */
export interface EncodableItem {
  readonly type: DbusType;
  readonly value: PathValue;
  readonly text: string;
}

/** Write a variant: signature, then the value at its alignment. */
export function writeValueVariant(w: WireWriter, type: DbusType, value: PathValue): void {
  if (value === null) {
    w.signature('ai');
    w.uint32(0); // empty array of 4-aligned elements: no padding after the length
    return;
  }
  w.signature(type);
  writeBasic(w, type, value);
}

function writeBasic(w: WireWriter, type: DbusType, value: string | number): void {
  if (type === 's') {
    w.string(value as string);
    return;
  }
  const n = value as number;
  switch (type) {
    case 'd':
      w.double(n);
      break;
    case 'i':
      w.int32(n);
      break;
    case 'u':
      w.uint32(n);
      break;
    case 'b':
      w.uint32(n ? 1 : 0);
      break;
    case 'y':
      w.byte(n);
      break;
    case 'n':
      w.int16(n);
      break;
    case 'q':
      w.uint16(n);
      break;
    case 'x':
      w.int64(n);
      break;
    case 't':
      w.uint64(n);
      break;
  }
}

/** `a{sv}` {Value, Text}, the payload of Victron's PropertiesChanged and of each GetItems entry. */
export function writeItemProps(w: WireWriter, item: EncodableItem): void {
  const arr = w.beginArray(8);
  w.align(8);
  w.string('Value');
  writeValueVariant(w, item.type, item.value);
  w.align(8);
  w.string('Text');
  w.signature('s');
  w.string(item.text);
  w.endArray(arr, 8);
}

/**
 * One `{s a{sv}}` dict entry of GetItems/ItemsChanged as standalone bytes. Dict entries start
 * on an 8-byte boundary, so bytes encoded at origin 0 are valid at any entry position: the
 * service caches them per item and GetItems becomes a copy.
 */
export function encodeItemEntry(scratch: WireWriter, path: string, item: EncodableItem): Buffer {
  scratch.reset();
  scratch.string(path);
  writeItemProps(scratch, item);
  return scratch.take();
}

/** `a{sa{sv}}` from pre-encoded entries (see encodeItemEntry). */
export function writeItemsDict(w: WireWriter, entries: Iterable<Buffer>): void {
  const arr = w.beginArray(8);
  for (const entry of entries) {
    w.align(8);
    w.bytes(entry);
  }
  w.endArray(arr, 8);
}

/** A subtree member: its key relative to the node, and the item. */
export interface TreeEntry {
  readonly key: string;
  readonly item: EncodableItem;
}

/** Tree GetValue: `v` wrapping `a{sv}` of relative keys → value variants (vedbus.py:453-469). */
export function writeTreeValues(w: WireWriter, entries: readonly TreeEntry[]): void {
  w.signature('a{sv}');
  const arr = w.beginArray(8);
  for (const { key, item } of entries) {
    w.align(8);
    w.string(key);
    writeValueVariant(w, item.type, item.value);
  }
  w.endArray(arr, 8);
}

/** Tree GetText: `v` wrapping `a{ss}` of relative keys → texts (vedbus.py:471-473). */
export function writeTreeTexts(w: WireWriter, entries: readonly TreeEntry[]): void {
  w.signature('a{ss}');
  const arr = w.beginArray(8);
  for (const { key, item } of entries) {
    w.align(8);
    w.string(key);
    w.string(item.text);
  }
  w.endArray(arr, 8);
}
