/**
 * The production wiring of batteries: each gets its own MQTT client and its own D-Bus
 * connection (one bus connection per service), and the shared settings-service client.
 */
import { hostname } from 'node:os';
import type { BatteryConfig, RunConfig } from '../config/index.js';
import type { SettingsClient } from '../dbus/index.js';
import type { Logger } from '../log.js';
import type { CompiledMapping } from '../mapping/index.js';
import { MqttSource, VenusKeepalive } from '../mqtt/index.js';
import { Battery } from './battery.js';
import { loadBatteryMappings } from './mappings.js';
import { SettingsIdentity } from './settings.js';
import { isVenusTopic } from './sources.js';
import { DbusSink } from './sink.js';

/** The batteries of a config; their mappings from loadBatteryMappings (loaded here when not given). */
export function createBatteries(
  config: RunConfig,
  log: Logger,
  settings?: SettingsClient,
  mappings: Map<BatteryConfig, CompiledMapping> = loadBatteryMappings(config.batteries),
): Battery[] {
  return config.batteries.map((b) => {
    const blog = log.child(b.name);
    return new Battery({
      config: b,
      mapping: mappings.get(b)!,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      log: blog,
      identityStore: settings ? new SettingsIdentity(settings, b.name, blog) : undefined,
      openSource: (topics, onMessage, sources) => {
        // Venus OS's own MQTT publishes nothing without a keepalive: vbat sends it itself.
        const venus = sources.filter((s) => s.venus && isVenusTopic(s.topic));
        const keepalive = venus.length
          ? new VenusKeepalive({
              filters: venus.map((s) => s.topic),
              timeoutMs: Math.min(...venus.map((s) => s.timeout)) * 1000,
              // QoS 0: a keepalive the broker never got is simply sent again at the next interval or connect.
              publish: (topic, payload) => void client.publish(topic, payload, { qos: 0, retain: false }).catch(() => undefined),
              log: blog,
            })
          : undefined;
        const client = new MqttSource({
          config: config.mqtt,
          clientId: `${config.mqtt.clientId ?? `vbat_${hostname()}`}_${b.name}`,
          topics: [...topics, ...(keepalive?.subscriptions ?? []).filter((t) => !topics.includes(t))],
          log: blog,
          onMessage: keepalive
            ? (m) => {
                keepalive.observe(m.topic);
                onMessage(m);
              }
            : onMessage,
          onState: keepalive ? (up) => keepalive.onConnected(up) : undefined,
        });
        if (!keepalive) return client;
        // The client itself (it is also the write-back channel), with the keepalive's timer tied to it.
        const start = client.start.bind(client);
        const stop = client.stop.bind(client);
        client.start = () => {
          keepalive.start();
          start();
        };
        client.stop = async () => {
          keepalive.stop();
          await stop();
        };
        return client;
      },
      openSink: (events) =>
        new DbusSink(
          { serviceName: b.serviceName, busAddress: config.bus, propertiesChanged: config.propertiesChanged, log: blog },
          events,
        ),
    });
  });
}
