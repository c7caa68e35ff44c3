/**
 * The run-time battery: a conductor over a message source, the input document, the mapping and a
 * sink, with the stale-data policy in between. `createBatteries` wires the production parts.
 */
export { Battery, type BatteryOptions, type Message, type MessageSource, type SourceFactory } from './battery.js';
export { createBatteries } from './create.js';
export { loadBatteryMappings } from './mappings.js';
export { Freshness } from './freshness.js';
export type { BatterySink, SinkEvents, SinkFactory } from './sink.js';
export type { IdentityStore } from './settings.js';
export { WriteBack, type CommandChannel, type WriteBackOptions } from './writeback.js';
