/** The configuration as the schema (schemas/config.schema.json) describes it, defaults applied. */

import type { LogLevel } from '../log.js';

export type { LogLevel };

export interface MqttConfig {
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  passwordFile?: string;
  passwordEnv?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure: boolean;
  keepalive: number;
  qos: 0 | 1 | 2;
  clientId?: string;
  reconnectMin: number;
  reconnectMax: number;
  maxPayloadBytes: number;
}

/** An availability (birth / last-will) topic and its payloads. */
export interface Availability {
  topic: string;
  online: string;
  offline: string;
}

export type AvailabilityConfig = false | { topic: string; online?: string; offline?: string };

export type SourceConfig =
  string | { topic: string; timeout?: number; required?: boolean; availability?: AvailabilityConfig; venus?: boolean };

export interface PackConfig {
  name?: string;
  topic: string;
  timeout?: number;
  availability?: AvailabilityConfig;
  venus?: boolean;
  capacity?: number;
}

export interface BatteryFileConfig {
  name: string;
  topic?: string;
  topics?: SourceConfig[];
  availability?: AvailabilityConfig;
  venus?: boolean;
  packs?: PackConfig[];
  minPacksOnline: number;
  mapping?: string;
  variables?: Record<string, unknown>;
  instance: number;
  serviceSuffix?: string;
  productName: string;
  customName?: string;
  productId: number;
  timeout: number;
  retainedIsFresh: boolean;
}

export interface FileConfig {
  logLevel: LogLevel;
  warningInterval: number;
  bus?: string;
  propertiesChanged: boolean;
  mqtt: MqttConfig;
  batteries?: BatteryFileConfig[];
}

/** One source of a battery after normalisation. */
export interface Source {
  topic: string;
  timeout: number;
  required: boolean;
  /** false: none; undefined: the mapping's input.availability, if any (resolved by the battery). */
  availability?: Availability | false;
  /** Venus OS MQTT (dbus-flashmq): keepalive, and empty/null payloads remove values. */
  venus?: boolean;
  /** With packs: the pack's name, its data's key under `packs` in the document. */
  pack?: string;
  /** Ah, from the config (the mapping's $packCapacity). */
  capacity?: number;
}

/** A battery ready to run: paths resolved, defaults filled, password read. */
export interface BatteryConfig {
  name: string;
  /** Empty when the mapping's input.topic is to be used. */
  sources: Source[];
  mappingFile: string;
  variables: Record<string, unknown>;
  instance: number;
  serviceName: string;
  productName: string;
  customName: string;
  productId: number;
  timeout: number;
  retainedIsFresh: boolean;
  /** With packs: fewer fresh packs than this and the battery is stale (default 1). */
  minPacksOnline?: number;
  /** Where each variable was set (config line or --var), for problems with it. */
  variableOrigins?: Record<string, { file: string; line?: number; where: string }>;
}

export interface RunConfig {
  file?: string;
  logLevel: LogLevel;
  warningInterval: number;
  bus?: string;
  propertiesChanged: boolean;
  mqtt: MqttConfig & { url: string };
  batteries: BatteryConfig[];
}
