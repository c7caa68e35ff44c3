/** The run-time battery: MQTT source → document → mapping → D-Bus service, with staleness. */
export { Battery, type BatteryOptions } from './battery.js';
export { Freshness } from './freshness.js';
