/**
 * The service paths (identity, management, diagnostics) of mappings/service-paths.yaml, evaluated on
 * a document built from the battery's config and state, and the item list the D-Bus service is
 * created with: service paths first, then the mapping's data paths, all invalid until data arrives.
 */
import { hostname } from 'node:os';
import type { BatteryConfig } from '../config/index.js';
import type { ItemDefinition } from '../dbus/index.js';
import { Evaluator, loadMapping, type CompiledMapping } from '../mapping/index.js';
import { mappingPath } from '../util/package-root.js';
import { VERSION } from '../version.js';

let servicePaths: CompiledMapping | undefined;

export function serviceMapping(): CompiledMapping {
  return (servicePaths ??= loadMapping(mappingPath('service-paths.yaml'), { servicePaths: true }));
}

export interface Diagnostics {
  connected: boolean;
  /** Unix time (s) of the last valid message. */
  lastMessageTime?: number;
  accepted: number;
  rejected: number;
  lastProblem?: string;
}

/** What the settings service may change about a battery: its VRM instance and GUI name. */
export interface Identity {
  instance: number;
  customName: string;
}

/** The parts of a battery's service document that never change, built once (a tick builds the document). */
interface FixedParts {
  mapping: CompiledMapping;
  processVersion: string;
  connection: string;
  serial: string;
}
const fixedParts = new WeakMap<BatteryConfig, FixedParts>();

function fixedPartsOf(cfg: BatteryConfig, mapping: CompiledMapping): FixedParts {
  let f = fixedParts.get(cfg);
  if (f?.mapping !== mapping) {
    f = {
      mapping,
      processVersion: `${VERSION} on Node.js ${process.versions.node}`,
      connection: `MQTT ${cfg.sources.map((s) => s.topic).join(', ')}`,
      serial: `vbat-${hostname()}-${cfg.name}`,
    };
    fixedParts.set(cfg, f);
  }
  return f;
}

export function serviceDocument(
  cfg: BatteryConfig,
  mapping: CompiledMapping,
  identity: Identity,
  diag: Diagnostics,
): Record<string, unknown> {
  const fixed = fixedPartsOf(cfg, mapping);
  return {
    processName: 'vbat',
    processVersion: fixed.processVersion,
    connection: fixed.connection,
    deviceInstance: identity.instance,
    productId: cfg.productId,
    productName: cfg.productName,
    customName: identity.customName,
    firmwareVersion: VERSION,
    hardwareVersion: mapping.name,
    serial: fixed.serial,
    connected: diag.connected ? 1 : 0,
    lastMessageTime: diag.lastMessageTime,
    accepted: diag.accepted,
    rejected: diag.rejected,
    lastProblem: diag.lastProblem,
  };
}

/** A service-path evaluator; service paths never reject (only /DeviceInstance is required). */
export function serviceEvaluator(): Evaluator {
  return new Evaluator(serviceMapping());
}

/** Item definitions for the D-Bus service. Throws when the mapping redefines a service path. */
export function itemDefinitions(
  service: CompiledMapping,
  values: (path: string) => { value: ItemDefinition['value']; text: string },
  data: CompiledMapping,
): ItemDefinition[] {
  const items: ItemDefinition[] = [];
  for (const p of service.paths) {
    const v = values(p.path);
    items.push({
      path: p.path,
      type: p.type,
      value: v.value,
      text: v.text,
      writable: p.writable,
      description: p.description,
      format: p.format,
    });
  }
  for (const p of data.paths) {
    if (service.byPath.has(p.path))
      throw new Error(`${data.file}: ${p.path} is a service path vbat sets itself; remove it from the mapping`);
    items.push({ path: p.path, type: p.type, value: null, writable: p.writable, description: p.description, format: p.format });
  }
  return items;
}
