/** Configuration: file + flags → a checked RunConfig. */
export { loadConfig, type ConfigFlags } from './load.js';
export type { Availability, BatteryConfig, LogLevel, MqttConfig, RunConfig, Source } from './types.js';
