/** Taking over from the seed (mr-manuel's dbus-mqtt-battery): its config.ini → a vbat config. */
export { batteryName, importSeedConfig, SEED_PLACEHOLDER_BROKER, type SeedImport } from './import.js';
