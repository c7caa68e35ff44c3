/**
 * The D-Bus service layer: publish typed paths as a com.victronenergy BusItem service.
 *
 *   const svc = await startService({ serviceName, items });  // exports all, then claims the name
 *   svc.apply(frame);                                        // one ItemsChanged of real changes
 *   await svc.close();                                       // releases name, disconnects
 *
 * Nothing else in src/dbus/ is meant to be imported from outside.
 */
export { startService } from './service.js';
export type { BusItemService, ItemDefinition, ServiceOptions, Signalling } from './types.js';
export { NameTakenError, ServiceConfigError } from './errors.js';
export { MANDATORY_PATHS } from './items.js';
export { busDaemonCall, connectBus, resolveBusAddress, type BusConnection } from './connection.js';
export { BUSITEM_INTERFACE } from './introspect.js';
export { coerceValue, defaultFormat, invalidVariant, toVariant, valueFromSetValue } from './values.js';
export { SettingsClient, parseClassAndVrmInstance, type SettingResult } from './settings.js';
