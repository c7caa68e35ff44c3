/**
 * Routes incoming method calls to our objects. Installed with dbus-next's low-level
 * addMethodHandler, which runs before its own dispatcher: calls we do not claim (other paths,
 * org.freedesktop.DBus.Peer/Properties, unknown members) fall through to dbus-next, which answers
 * them or replies UnknownMethod.
 *
 * Signatures are checked here, not by dbus-next. GetValue/GetText/GetItems take no arguments and
 * GetDescription takes (si), else InvalidArgs. SetValue is declared `v`, but, like velib (whose
 * dbus-python does not enforce in_signature, contract §1.5), a single basic-typed argument is also
 * accepted, so the README-style `dbus-send ... SetValue int32:1200` works too.
 */
import type { Message, Variant } from 'dbus-next';
import { writeItemsDict, writeTreeTexts, writeTreeValues, writeValueVariant } from './encode.js';
import { BUSITEM_INTERFACE, INTROSPECTABLE_INTERFACE, introspectXml } from './introspect.js';
import type { Item, ItemTree, Node } from './items.js';
import type { MessageSender } from './sender.js';

const INVALID_ARGS = 'org.freedesktop.DBus.Error.InvalidArgs';
const FAILED = 'org.freedesktop.DBus.Error.Failed';
const BASIC_TYPES = 'ybnqiuxtdsog';

/** What the dispatcher needs from the service. */
export interface DispatchTarget {
  readonly tree: ItemTree;
  readonly sender: MessageSender;
  /** The cached GetItems dict entry of an item. */
  entryOf(item: Item): Buffer;
  /** Apply a remote SetValue from `sender`; returns (or resolves to) the velib result code (0, 1, 2). */
  setValue(item: Item, signature: string, value: unknown, sender: string): number | Promise<number>;
}

/** Build the handler for bus.addMethodHandler; returns true when the call was ours. */
export function createMethodHandler(target: DispatchTarget): (msg: Message) => boolean {
  const xmlCache = new Map<string, string>();
  const introspect = (node: Node): string => {
    let xml = xmlCache.get(node.path);
    if (xml === undefined) {
      xml = introspectXml(node.kind, node.children);
      xmlCache.set(node.path, xml);
    }
    return xml;
  };

  return (msg: Message): boolean => {
    const node = target.tree.nodes.get(msg.path);
    if (!node) return false;
    const iface = msg.interface;
    try {
      if (msg.member === 'Introspect' && (iface === INTROSPECTABLE_INTERFACE || !iface)) {
        if (!checkNoArgs(target, msg)) return true;
        target.sender.reply(msg, 's', (w) => w.string(introspect(node)));
        return true;
      }
      if (iface && iface !== BUSITEM_INTERFACE) return false;
      return node.kind === 'leaf' ? leafCall(target, node.item!, msg) : treeCall(target, node, msg);
    } catch (e) {
      target.sender.error(msg, FAILED, `vbat: ${msg.member} failed: ${(e as Error).message}`);
      return true;
    }
  };
}

function leafCall(target: DispatchTarget, item: Item, msg: Message): boolean {
  const { sender } = target;
  switch (msg.member) {
    case 'GetValue':
      if (checkNoArgs(target, msg)) sender.reply(msg, 'v', (w) => writeValueVariant(w, item.type, item.value));
      return true;
    case 'GetText':
      if (checkNoArgs(target, msg)) sender.reply(msg, 's', (w) => w.string(item.text));
      return true;
    case 'GetDescription':
      if (msg.signature !== 'si') sender.error(msg, INVALID_ARGS, 'GetDescription takes (si)');
      else sender.reply(msg, 's', (w) => w.string(item.description));
      return true;
    case 'SetValue': {
      const arg = setValueArgument(msg);
      if (!arg) {
        sender.error(msg, INVALID_ARGS, 'SetValue takes one variant (v)');
        return true;
      }
      const code = target.setValue(item, arg.signature, arg.value, msg.sender ?? '');
      if (typeof code === 'number') sender.reply(msg, 'i', (w) => w.int32(code));
      else
        code
          .then(
            (c) => sender.reply(msg, 'i', (w) => w.int32(c)),
            () => sender.reply(msg, 'i', (w) => w.int32(2)),
          )
          // A reply that cannot be written (the bus went away meanwhile) must not end the process.
          .catch(() => undefined);
      return true;
    }
    default:
      return false;
  }
}

function treeCall(target: DispatchTarget, node: Node, msg: Message): boolean {
  const { sender } = target;
  switch (msg.member) {
    case 'GetValue':
      if (checkNoArgs(target, msg)) sender.reply(msg, 'v', (w) => writeTreeValues(w, node.subtree));
      return true;
    case 'GetText':
      if (checkNoArgs(target, msg)) sender.reply(msg, 'v', (w) => writeTreeTexts(w, node.subtree));
      return true;
    case 'GetItems':
      if (node.kind !== 'root') return false;
      if (checkNoArgs(target, msg)) {
        sender.reply(msg, 'a{sa{sv}}', (w) => writeItemsDict(w, entries(target)));
      }
      return true;
    default:
      return false;
  }
}

function* entries(target: DispatchTarget): Iterable<Buffer> {
  for (const item of target.tree.items.values()) yield target.entryOf(item);
}

function checkNoArgs(target: DispatchTarget, msg: Message): boolean {
  if (!msg.signature) return true;
  target.sender.error(msg, INVALID_ARGS, `${msg.member} takes no arguments (got ${msg.signature})`);
  return false;
}

/** The (signature, value) SetValue was called with, or undefined for an unusable signature. */
function setValueArgument(msg: Message): { signature: string; value: unknown } | undefined {
  if (msg.signature === 'v') {
    const v = msg.body[0] as Variant;
    return { signature: v.signature, value: v.value };
  }
  if (msg.signature.length === 1 && BASIC_TYPES.includes(msg.signature)) {
    return { signature: msg.signature, value: msg.body[0] };
  }
  return undefined;
}
