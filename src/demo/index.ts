/** The demo's parts: an embedded MQTT broker, a private dbus-daemon and a simulated BMS. */
export { DemoBroker } from './broker.js';
export { MissingDbusDaemonError, startPrivateBus, stopChild, type PrivateBus } from './dbus-daemon.js';
export { BmsSimulator } from './simulator.js';
