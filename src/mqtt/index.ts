/** The MQTT stage's front door: one connection per battery, raw messages out. */
export { MqttSource, safeUrl, urlCredentials, type MqttMessage, type MqttSourceOptions } from './client.js';
export { VenusKeepalive, KEEPALIVE_MS, SUPPRESS_REPUBLISH, type KeepaliveOptions } from './keepalive.js';
