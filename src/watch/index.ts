/** The watch stage: a read-only D-Bus client that shows a battery service as Venus OS sees it. */
export { LiveView, stopper, type Output, type StopReason } from './live.js';
export { activeAlarms, renderLine, renderView, snapshotJson } from './view.js';
export { BATTERY_PREFIX, BusWatcher, type Snapshot, type WatchedItem } from './watcher.js';
