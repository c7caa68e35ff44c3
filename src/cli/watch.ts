/**
 * `vbat watch [SERVICE]`: a live view of a com.victronenergy.battery.* service on a D-Bus (the
 * system bus by default), built the way Venus's consumers build theirs: GetItems, then
 * ItemsChanged/PropertiesChanged. Read-only. `--json` prints one snapshot and exits.
 */
import { resolveBusAddress } from '../dbus/index.js';
import { UsageError } from '../errors.js';
import { BATTERY_PREFIX, BusWatcher, LiveView, snapshotJson, stopper, type Output } from '../watch/index.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';

export const WATCH_COMMAND = {
  name: 'watch',
  usage: ['watch [SERVICE] [--bus ADDRESS] [--json] [--duration SECONDS]'],
  summary: 'Live view of a com.victronenergy.battery.* service as Venus OS sees it (read-only).',
  description: [
    "Shows a battery service as Venus OS sees it — connection, SoC, voltage, current and power, temperatures, the DVCC charge limits, cells, alarms and message counters — updating live until Ctrl-C. It reads the service the way Venus's own consumers do (GetItems, then ItemsChanged and PropertiesChanged), so it shows what any battery driver exports, not only vbat. Read-only: it never sets a value.",
    'On a terminal the view redraws in place (80 columns); piped, it prints one line per update, at most once a second.',
  ],
  args: [
    [
      'SERVICE',
      'the service to watch: the full name, or what follows com.victronenergy.battery. (e.g. vbat_house). Default: the first battery service on the bus. When it is not on the bus, the battery services that are there are listed; the live view then waits for it to appear.',
    ],
  ],
  flags: {
    bus: {
      type: 'string',
      arg: 'ADDRESS',
      help: 'D-Bus address, e.g. unix:path=/tmp/vbat-demo-XXXX/bus (default: $DBUS_SYSTEM_BUS_ADDRESS, else the system bus)',
    },
    json: { type: 'boolean', help: 'print every path once — value, D-Bus type and text; invalid is null, ai, --- — as JSON, and exit' },
    duration: { type: 'string', arg: 'SECONDS', help: 'stop after this many seconds (default: run until Ctrl-C)' },
  },
  notes: [
    'Exit status: 0 after Ctrl-C, --duration or --json; 1 when the bus cannot be reached, the connection is lost, or (with --json, or without SERVICE) there is no such service; 2 on a usage error.',
  ],
} satisfies CommandSpec;

export const WATCH_USAGE = helpText(WATCH_COMMAND);

export interface WatchIo {
  out: Output;
  err: Output;
}

export async function watch(args: string[], io: WatchIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  const { values, positionals } = parseCommand(WATCH_COMMAND, args);
  if (values.help) {
    io.out.write(WATCH_USAGE);
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`takes at most one SERVICE, got ${positionals.length}: ${positionals.join(' ')}`);
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
    let absent: string | undefined;
    const found = await watcher.listServices();
    if (!service) {
      if (!found.length) {
        io.err.write(`vbat watch: no ${BATTERY_PREFIX}* service on ${address}\n`);
        return 1;
      }
      [service, ...others] = found as [string, ...string[]];
    } else if (!found.includes(service)) {
      // A typo or a battery that is not running: say what is there instead of a silent wait.
      absent = notThere(service, found, address);
      io.err.write(`vbat watch: ${absent}\n`);
      if (values.json) return 1;
      io.err.write(`vbat watch: waiting for ${service} to appear (Ctrl-C to stop)\n`);
      others = found;
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
    return await live(watcher, service, others, duration, io, address, absent !== undefined);
  } catch (err) {
    io.err.write(`vbat watch: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await watcher.close();
  }
}

async function live(
  watcher: BusWatcher,
  service: string,
  others: string[],
  duration: number | undefined,
  io: WatchIo,
  address: string,
  absentAtStart = false,
): Promise<number> {
  const tty = io.out.isTTY === true;
  // On a terminal the screen is cleared: until the service appears, the view repeats what was found.
  const note = () =>
    absentAtStart && !watcher.snapshot.owner && !others.length ? [`No ${BATTERY_PREFIX}* service was on the bus at start`] : [];
  const view = new LiveView(() => watcher.snapshot, {
    out: io.out,
    tty,
    view: () => ({ others, footer: [...note(), `D-Bus  ${address}`, 'Ctrl-C to stop'] }),
  });
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

/** `X is not on BUS; the battery services there: ...` (or that there are none), and the likely one. */
export function notThere(service: string, found: string[], address: string): string {
  const short = (n: string) => (n.startsWith(BATTERY_PREFIX) ? n.slice(BATTERY_PREFIX.length) : n);
  const want = short(service).replace(/^vbat_/, '');
  const near = want ? found.filter((n) => short(n).includes(want)) : [];
  const there = found.length ? `the battery services there: ${found.join(', ')}` : `there is no ${BATTERY_PREFIX}* service there`;
  return `${service} is not on ${address}; ${there}${near.length === 1 ? ` (did you mean ${short(near[0]!)}?)` : ''}`;
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
