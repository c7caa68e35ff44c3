/**
 * `vbat watch [SERVICE]`: a live view of a com.victronenergy.battery.* service on a D-Bus (the
 * system bus by default), built the way Venus's consumers build theirs: GetItems, then
 * ItemsChanged/PropertiesChanged. Read-only. `--json` prints one snapshot and exits.
 */
import { parseArgs } from 'node:util';
import { resolveBusAddress } from '../dbus/index.js';
import { UsageError } from '../errors.js';
import { BATTERY_PREFIX, BusWatcher, LiveView, snapshotJson, stopper, type Output } from '../watch/index.js';
import { parse } from './args.js';

export const WATCH_USAGE = `Usage: vbat watch [SERVICE] [--bus ADDRESS] [--json] [--duration SECONDS]

Shows a battery service as Venus OS sees it, updating live until Ctrl-C. Without SERVICE, the
first com.victronenergy.battery.* service on the bus. SERVICE may be the full name or what
follows com.victronenergy.battery. (e.g. vbat_battery). Read-only: never sets a value.
  --bus ADDRESS     D-Bus address (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)
  --json            print every path (value, D-Bus type, text) once, as JSON, and exit
  --duration S      stop after S seconds
`;

export interface WatchIo {
  out: Output;
  err: Output;
}

export async function watch(args: string[], io: WatchIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        bus: { type: 'string' },
        json: { type: 'boolean', default: false },
        duration: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }),
  );
  if (values.help) {
    io.out.write(WATCH_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('vbat watch takes at most one SERVICE');
  const duration = seconds('duration', values.duration);
  const address = resolveBusAddress(values.bus);

  let watcher: BusWatcher;
  try {
    watcher = await BusWatcher.connect(address);
  } catch (err) {
    io.err.write(`vbat watch: ${(err as Error).message}\n`);
    return 1;
  }
  try {
    let service = positionals[0] ? serviceName(positionals[0]) : undefined;
    let others: string[] = [];
    if (!service) {
      const found = await watcher.listServices();
      if (!found.length) {
        io.err.write(`vbat watch: no ${BATTERY_PREFIX}* service on ${address}\n`);
        return 1;
      }
      [service, ...others] = found as [string, ...string[]];
    }
    if (values.json) {
      await watcher.watch(service);
      const snap = watcher.snapshot;
      if (!snap.owner) {
        io.err.write(`vbat watch: ${service} is not on ${address}\n`);
        return 1;
      }
      io.out.write(`${JSON.stringify(snapshotJson(snap), null, 2)}\n`);
      return 0;
    }
    return await live(watcher, service, others, duration, io, address);
  } catch (err) {
    io.err.write(`vbat watch: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await watcher.close();
  }
}

async function live(watcher: BusWatcher, service: string, others: string[], duration: number | undefined, io: WatchIo, address: string): Promise<number> {
  const tty = io.out.isTTY === true;
  const view = new LiveView(() => watcher.snapshot, { out: io.out, tty, view: () => ({ others, footer: [`D-Bus  ${address}`, 'Ctrl-C to stop'] }) });
  if (!tty) io.out.write(`vbat watch: ${service} on ${address}${others.length ? ` (also there: ${others.join(', ')})` : ''}\n`);
  const stop = stopper(duration);
  watcher.onLost((err) => stop.stop('error', err));
  try {
    await watcher.watch(service, () => view.update());
  } catch (err) {
    stop.stop('error');
    throw err;
  }
  view.start();
  view.update();
  const { reason, error } = await stop.stopped;
  view.stop();
  if (reason === 'error') {
    io.err.write(`vbat watch: D-Bus connection lost: ${error?.message ?? ''}\n`);
    return 1;
  }
  return 0;
}

/** `vbat_battery` → `com.victronenergy.battery.vbat_battery`; a dotted name is taken as is. */
export function serviceName(arg: string): string {
  return arg.includes('.') ? arg : `${BATTERY_PREFIX}${arg}`;
}

export function seconds(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${flag} expects a number of seconds, got "${v}"`);
  return n;
}
