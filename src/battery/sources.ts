/**
 * A battery's sources as it runs them: the config's, or the mapping's input.topic when the config
 * gives none, with the mapping's default availability topic filled in and the Venus OS flag set.
 */
import type { Availability, BatteryConfig, Source } from '../config/index.js';
import type { CompiledMapping } from '../mapping/index.js';

export function resolveSources(config: BatteryConfig, mapping: CompiledMapping): Source[] {
  const listed = config.sources.length
    ? config.sources
    : [{ topic: mapping.input.topic ?? '#', timeout: config.timeout, required: true } satisfies Source];
  return listed.map((s) => ({
    ...s,
    availability: s.availability === undefined ? defaultAvailability(s.topic, mapping) : s.availability,
    venus: s.venus ?? isVenusTopic(s.topic),
  }));
}

/** dbus-flashmq's notifications: N/<portal id>/<service type>/<instance>/<path>. */
export function isVenusTopic(filter: string): boolean {
  return filter.startsWith('N/');
}

/**
 * The mapping's availability topic for one source: `{base}` is the source filter without its last
 * level — its trailing `/#` (ESPHome's `<node>/#` → `<node>/status`) or its last topic level
 * (Daly2MQTT's `<node>/Pack_Data` → `<node>/Alive`). A filter with a `+` or `#` left in that base,
 * or of one level only, names no one node, so it gets no default.
 */
export function defaultAvailability(filter: string, mapping: CompiledMapping): Availability | false {
  const a = mapping.input.availability;
  if (!a) return false;
  let topic = a.topic;
  if (topic.includes('{base}')) {
    const base = filter.endsWith('/#') ? filter.slice(0, -2) : filter.slice(0, Math.max(0, filter.lastIndexOf('/')));
    if (base === '' || /[#+]/.test(base)) return false;
    topic = topic.replaceAll('{base}', base);
  }
  return { topic, online: a.online ?? 'online', offline: a.offline ?? 'offline' };
}
