/**
 * Introspection XML per node kind. We answer Introspect ourselves (instead of dbus-next's
 * ServiceObject/xml2js machinery) because our objects are not dbus-next Interfaces; the
 * member lists mirror velib's decorators (vedbus.py:466-490, 572-640) so `gdbus introspect`
 * and proxy generators see the same interface as on a Python driver.
 */
import type { NodeKind } from './items.js';

export const BUSITEM_INTERFACE = 'com.victronenergy.BusItem';
export const INTROSPECTABLE_INTERFACE = 'org.freedesktop.DBus.Introspectable';

const HEADER =
  '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n' +
  ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n';

const INTROSPECTABLE =
  `  <interface name="${INTROSPECTABLE_INTERFACE}">\n` +
  '    <method name="Introspect">\n' +
  '      <arg name="xml_data" type="s" direction="out"/>\n' +
  '    </method>\n' +
  '  </interface>\n';

const TREE_METHODS =
  '    <method name="GetValue">\n' +
  '      <arg name="value" type="v" direction="out"/>\n' +
  '    </method>\n' +
  '    <method name="GetText">\n' +
  '      <arg name="text" type="v" direction="out"/>\n' +
  '    </method>\n';

const MEMBERS: Record<NodeKind, string> = {
  root:
    '    <method name="GetItems">\n' +
    '      <arg name="items" type="a{sa{sv}}" direction="out"/>\n' +
    '    </method>\n' +
    TREE_METHODS +
    '    <signal name="ItemsChanged">\n' +
    '      <arg name="changes" type="a{sa{sv}}"/>\n' +
    '    </signal>\n',
  tree: TREE_METHODS,
  leaf:
    '    <method name="GetValue">\n' +
    '      <arg name="value" type="v" direction="out"/>\n' +
    '    </method>\n' +
    '    <method name="GetText">\n' +
    '      <arg name="text" type="s" direction="out"/>\n' +
    '    </method>\n' +
    '    <method name="SetValue">\n' +
    '      <arg name="newvalue" type="v" direction="in"/>\n' +
    '      <arg name="result" type="i" direction="out"/>\n' +
    '    </method>\n' +
    '    <method name="GetDescription">\n' +
    '      <arg name="language" type="s" direction="in"/>\n' +
    '      <arg name="length" type="i" direction="in"/>\n' +
    '      <arg name="description" type="s" direction="out"/>\n' +
    '    </method>\n' +
    '    <signal name="PropertiesChanged">\n' +
    '      <arg name="changes" type="a{sv}"/>\n' +
    '    </signal>\n',
};

/** The XML document for one node: its interfaces and its direct children. */
export function introspectXml(kind: NodeKind, children: readonly string[]): string {
  // Child names are object-path elements ([A-Za-z0-9_]+), so they need no XML escaping.
  const nodes = children.map((c) => `  <node name="${c}"/>\n`).join('');
  return (
    HEADER +
    '<node>\n' +
    INTROSPECTABLE +
    `  <interface name="${BUSITEM_INTERFACE}">\n` +
    MEMBERS[kind] +
    '  </interface>\n' +
    nodes +
    '</node>\n'
  );
}
