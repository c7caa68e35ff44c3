/**
 * What the D-Bus stage's tests share: an item list of every D-Bus type and unique service names.
 * The D-Bus client is test/support/bus-client.ts, the external tools test/support/dbus-tools.ts,
 * waiting test/support/wait.ts.
 */
import type { ItemDefinition } from '../../src/dbus/index.js';

/** Mandatory paths plus data paths of every D-Bus type, some invalid. */
export function batteryItems(extra: ItemDefinition[] = []): ItemDefinition[] {
  return [
    { path: '/Mgmt/ProcessName', type: 's', value: 'vbat' },
    { path: '/Mgmt/ProcessVersion', type: 's', value: '0.1.0' },
    { path: '/Mgmt/Connection', type: 's', value: 'MQTT test' },
    { path: '/DeviceInstance', type: 'i', value: 100 },
    { path: '/ProductId', type: 'i', value: 0xffff },
    { path: '/ProductName', type: 's', value: 'vbat battery' },
    { path: '/CustomName', type: 's', value: 'Test bat', writable: true, description: 'User name' },
    { path: '/FirmwareVersion', type: 's', value: '1.2.3' },
    { path: '/HardwareVersion', type: 's', value: null },
    { path: '/Serial', type: 's', value: 'SN1' },
    { path: '/Connected', type: 'i', value: 1 },
    { path: '/Dc/0/Voltage', type: 'd', value: 52.1, text: '52.10V' },
    { path: '/Dc/0/Current', type: 'd', value: null },
    { path: '/Dc/0/Power', type: 'i', value: -300, text: '-300W' },
    { path: '/Soc', type: 'y', value: 63, text: '63%' },
    { path: '/TimeToGo', type: 'q', value: 3600 },
    { path: '/Alarms/LowVoltage', type: 'u', value: 0 },
    { path: '/System/Temp', type: 'n', value: -5 },
    { path: '/History/ChargedEnergy', type: 'x', value: 123456789012 },
    { path: '/History/Counter', type: 't', value: 42 },
    { path: '/Io/AllowToCharge', type: 'b', value: 1 },
    { path: '/Info/MaxChargeVoltage', type: 'd', value: 55.2, writable: true, format: (v) => `${v}V` },
    { path: '/Mode', type: 'i', value: 3, writable: true },
    ...extra,
  ];
}

/** A service name unique within the test process. */
let counter = 0;
export function uniqueServiceName(tag: string): string {
  return `com.victronenergy.battery.t${process.pid}_${tag}_${++counter}`;
}
