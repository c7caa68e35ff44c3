/**
 * The object tree of a service: one leaf per item, the root '/', and the intermediate nodes
 * ('/Dc', '/Dc/0', ...) that velib creates by itself (VeDbusTreeExport). Built and validated
 * once, before anything touches the bus, because a service must be complete before it claims
 * its name (contract §2.2, §7.6).
 */
import { DBUS_TYPES, INVALID_TEXT, type DbusType, type PathValue } from '../venus/types.js';
import { ServiceConfigError } from './errors.js';
import type { EncodableItem, TreeEntry } from './encode.js';
import type { ItemDefinition } from './types.js';
import { coerceValue, defaultFormat, isIntegerType, sanitizeText } from './values.js';

/** Paths every Victron service must export before registering (vedbus.py:136-148, wiki). */
export const MANDATORY_PATHS: readonly string[] = [
  '/Mgmt/ProcessName',
  '/Mgmt/ProcessVersion',
  '/Mgmt/Connection',
  '/DeviceInstance',
  '/ProductId',
  '/ProductName',
  '/CustomName',
  '/FirmwareVersion',
  '/HardwareVersion',
  '/Serial',
  '/Connected',
];

const DEFAULT_DESCRIPTION = 'No description given';

/** A leaf's live state. `entry` caches its encoded GetItems dict entry until it changes. */
export interface Item extends EncodableItem {
  readonly path: string;
  readonly type: DbusType;
  value: PathValue;
  text: string;
  readonly writable: boolean;
  readonly description: string;
  readonly format: (value: Exclude<PathValue, null>) => string;
  entry: Buffer | null;
  /** Batch counter of the last apply() that changed it; de-duplicates repeated paths. */
  mark: number;
}

export type NodeKind = 'root' | 'tree' | 'leaf';

/** One exported object path. */
export interface Node {
  readonly path: string;
  readonly kind: NodeKind;
  /** The item of a leaf. */
  readonly item?: Item;
  /** Items below a root/tree node, keyed relative to it (no leading '/'). */
  readonly subtree: TreeEntry[];
  /** Names of the direct child nodes, for Introspect. */
  readonly children: string[];
}

export interface ItemTree {
  readonly items: Map<string, Item>;
  readonly nodes: Map<string, Node>;
}

const PATH_RE = /^(\/[A-Za-z0-9_]+)+$/;
// Well-known bus name: ≥2 dot-separated elements, none starting with a digit (D-Bus spec).
const BUS_NAME_RE = /^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+$/;

/** Validate the definitions and build the tree; throws ServiceConfigError listing all problems. */
export function buildItemTree(serviceName: string, defs: readonly ItemDefinition[]): ItemTree {
  const problems: string[] = [];
  if (typeof serviceName !== 'string' || serviceName.length > 255 || !BUS_NAME_RE.test(serviceName)) {
    problems.push(`service name ${JSON.stringify(serviceName)} is not a valid D-Bus well-known name`);
  }

  const items = new Map<string, Item>();
  for (const def of defs) {
    const item = makeItem(def, problems);
    if (!item) continue;
    if (items.has(item.path)) problems.push(`${item.path}: defined twice`);
    else items.set(item.path, item);
  }

  const missing = MANDATORY_PATHS.filter((p) => !items.has(p));
  if (missing.length) problems.push(`mandatory path(s) missing: ${missing.join(', ')}`);
  const di = items.get('/DeviceInstance');
  if (di && (!isIntegerType(di.type) || di.type === 'b' || di.value === null)) {
    problems.push('/DeviceInstance must have an integer type (use i) and a valid value');
  }

  const nodes = new Map<string, Node>();
  nodes.set('/', { path: '/', kind: 'root', subtree: [], children: [] });
  for (const item of items.values()) {
    addToTree(nodes, item, problems);
  }
  if (problems.length) throw new ServiceConfigError(String(serviceName), problems);
  return { items, nodes };
}

function makeItem(def: ItemDefinition, problems: string[]): Item | undefined {
  const path = def?.path;
  if (typeof path !== 'string' || !PATH_RE.test(path)) {
    problems.push(`${JSON.stringify(path)}: not a valid object path (like /Dc/0/Voltage)`);
    return undefined;
  }
  if (!DBUS_TYPES.includes(def.type)) {
    problems.push(`${path}: type ${JSON.stringify(def.type)} is not one of ${DBUS_TYPES.join(' ')}`);
    return undefined;
  }
  const value = coerceValue(def.value, def.type);
  if (value === null && def.value !== null && def.value !== undefined) {
    problems.push(`${path}: initial value ${JSON.stringify(def.value)} does not fit type ${def.type}`);
    return undefined;
  }
  const format = def.format ?? ((v: Exclude<PathValue, null>) => defaultFormat(path, v));
  let text = INVALID_TEXT;
  try {
    if (value !== null) text = sanitizeText(String(def.text ?? format(value)));
  } catch (e) {
    problems.push(`${path}: format(${JSON.stringify(value)}) threw: ${(e as Error).message}`);
    return undefined;
  }
  return {
    path,
    type: def.type,
    value,
    text,
    writable: def.writable === true,
    description: def.description ?? DEFAULT_DESCRIPTION,
    format,
    entry: null,
    mark: 0,
  };
}

/** Register a leaf and create/extend its ancestors ('/', '/Dc', '/Dc/0'). */
function addToTree(nodes: Map<string, Node>, item: Item, problems: string[]): void {
  const parts = item.path.split('/').slice(1);
  let prefix = '';
  for (let depth = 0; depth < parts.length; depth++) {
    const parentPath = prefix || '/';
    const parent = nodes.get(parentPath)!;
    if (parent.kind === 'leaf') {
      problems.push(`${item.path}: ${parentPath} is an item, so it cannot have children`);
      return;
    }
    parent.subtree.push({ key: item.path.slice(prefix.length + 1), item });
    const childPath = `${prefix}/${parts[depth]}`;
    const isLeaf = depth === parts.length - 1;
    const existing = nodes.get(childPath);
    if (existing) {
      if (isLeaf || existing.kind === 'leaf') {
        problems.push(`${childPath}: used both as an item and as a parent of other items`);
        return;
      }
    } else {
      parent.children.push(parts[depth]!);
      nodes.set(
        childPath,
        isLeaf
          ? { path: childPath, kind: 'leaf', item, subtree: [], children: [] }
          : { path: childPath, kind: 'tree', subtree: [], children: [] },
      );
    }
    prefix = childPath;
  }
}
