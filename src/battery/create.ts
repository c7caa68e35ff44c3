/**
 * The production wiring of batteries: each gets its own MQTT client and its own D-Bus
 * connection (one bus connection per service), and the shared settings-service client.
 */
import { hostname } from 'node:os';
import type { RunConfig } from '../config/index.js';
import type { SettingsClient } from '../dbus/index.js';
import type { Logger } from '../log.js';
import { loadMapping, type CompiledMapping } from '../mapping/index.js';
import { MqttSource } from '../mqtt/index.js';
import { Battery } from './battery.js';
import { SettingsIdentity } from './settings.js';
import { DbusSink } from './sink.js';

export function createBatteries(config: RunConfig, log: Logger, settings?: SettingsClient): Battery[] {
  const mappings = new Map<string, CompiledMapping>();
  const mappingFor = (file: string) => {
    let m = mappings.get(file);
    if (!m) mappings.set(file, (m = loadMapping(file)));
    return m;
  };
  return config.batteries.map((b) => {
    const blog = log.child(b.name);
    return new Battery({
      config: b,
      mapping: mappingFor(b.mappingFile),
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      log: blog,
      identityStore: settings ? new SettingsIdentity(settings, b.name, blog) : undefined,
      openSource: (topics, onMessage) =>
        new MqttSource({
          config: config.mqtt,
          clientId: `${config.mqtt.clientId ?? `vbat_${hostname()}`}_${b.name}`,
          topics,
          log: blog,
          onMessage,
        }),
      openSink: (events) =>
        new DbusSink(
          { serviceName: b.serviceName, busAddress: config.bus, propertiesChanged: config.propertiesChanged, log: blog },
          events,
        ),
    });
  });
}
