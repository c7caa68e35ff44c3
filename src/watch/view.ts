/**
 * How `vbat watch` and `vbat demo` show a battery service: a screen for a terminal (fits 80
 * columns), a compact line for logs and pipes, and a JSON snapshot. Pure functions of a Snapshot,
 * so they are tested without a bus. Numbers are formatted here (not taken from the service's
 * texts), so every battery driver looks the same.
 */
import type { Snapshot, WatchedItem } from './watcher.js';

export const WIDTH = 80;
const LABEL = 15;

export interface ViewOptions {
  /** Title on the first line; default "vbat watch". */
  title?: string;
  /** Lines shown under the view (the demo's addresses, hints, recent log lines). */
  footer?: string[];
  /** Other battery services on the bus (listed so the user knows they exist). */
  others?: string[];
  now?: number;
}

/** The full screen, every line at most WIDTH - 1 characters. */
export function renderView(s: Snapshot, opts: ViewOptions = {}): string[] {
  const now = opts.now ?? Date.now();
  const v = new Values(s.items);
  const lines: string[] = [];
  lines.push(spread(`${opts.title ?? 'vbat watch'}  ${s.service}`, clock(now)));
  if (!s.owner) {
    lines.push(`${s.service || 'the service'} is not on the bus; waiting for it to appear...`);
  } else if (s.items.size === 0) {
    lines.push(`${s.owner}: no items yet`);
  } else {
    const name = v.str('/CustomName') || v.str('/ProductName') || '';
    const ident = [
      name,
      v.str('/ProductName') !== name ? v.str('/ProductName') : '',
      v.has('/DeviceInstance') ? `instance ${v.fmt('/DeviceInstance', 0)}` : '',
      s.owner,
    ].filter(Boolean);
    lines.push(ident.join(' · '));
    const proc = [v.str('/Mgmt/ProcessName'), v.str('/Mgmt/ProcessVersion')].filter(Boolean).join(' ');
    const conn = v.str('/Mgmt/Connection');
    if (proc || conn) lines.push([proc, conn].filter(Boolean).join(' · '));
  }
  lines.push('─'.repeat(WIDTH - 1));
  if (s.owner && s.items.size) lines.push(...body(v, s, now));
  if (opts.others?.length)
    lines.push(
      ...wrapList(
        'Also on bus',
        opts.others.map((o) => o.replace('com.victronenergy.battery.', '…battery.')),
      ),
    );
  if (opts.footer?.length) {
    lines.push('─'.repeat(WIDTH - 1));
    lines.push(...opts.footer);
  }
  return lines.map((l) => clip(l, WIDTH - 1));
}

function body(v: Values, s: Snapshot, now: number): string[] {
  const out: string[] = [];
  const row = (label: string, text: string) => out.push(label.padEnd(LABEL) + text);

  const connected = v.num('/Connected');
  const connText = connected === undefined ? '---' : connected === 1 ? 'yes' : connected === 0 ? 'NO' : `NO (${connected})`;
  const msgs = v.has('/Vbat/MessagesAccepted')
    ? `messages ${v.fmt('/Vbat/MessagesAccepted', 0)} accepted, ${v.fmt('/Vbat/MessagesRejected', 0)} rejected${messageAge(v.num('/Vbat/LastMessageTime'), now)}`
    : '';
  row('Connected', msgs ? `${connText.padEnd(9)}${msgs}` : connText);

  const soc = v.num('/Soc');
  const soh = v.has('/Soh') && v.num('/Soh') !== undefined ? `   SoH ${v.fmt('/Soh', 0)} %` : '';
  row('SoC', `${v.fmt('/Soc', 1, ' %').padEnd(9)}${bar(soc, 30)}${soh}`);

  const current = v.num('/Dc/0/Current');
  const direction = current === undefined ? '' : current > 0.05 ? 'charging' : current < -0.05 ? 'discharging' : 'idle';
  row(
    'Battery',
    `${v.fmt('/Dc/0/Voltage', 2, ' V').padEnd(10)}${v.fmt('/Dc/0/Current', 1, ' A', true).padEnd(10)}${v.fmt('/Dc/0/Power', 0, ' W', true).padEnd(10)}${direction}`,
  );

  if (v.has('/Capacity') || v.has('/InstalledCapacity')) {
    const ttg = v.num('/TimeToGo');
    const parts = [`${v.fmt('/Capacity', 1)} of ${v.fmt('/InstalledCapacity', 1, ' Ah')}`];
    if (v.num('/ConsumedAmphours') !== undefined) parts.push(`${v.fmt('/ConsumedAmphours', 1, ' Ah')} used`);
    if (ttg !== undefined) parts.push(`time to go ${duration(ttg)}`);
    row('Capacity', parts.join(', '));
  }

  const temps = [v.fmt('/Dc/0/Temperature', 1, ' °C')];
  if (v.num('/System/MinCellTemperature') !== undefined)
    temps.push(`cells ${v.fmt('/System/MinCellTemperature', 1)}…${v.fmt('/System/MaxCellTemperature', 1, ' °C')}`);
  if (v.num('/System/MOSTemperature') !== undefined) temps.push(`MOS ${v.fmt('/System/MOSTemperature', 1, ' °C')}`);
  row('Temperature', temps.join('   '));

  // Only what is abnormal: a BMS that forbids charging or discharging.
  const io = [v.num('/Io/AllowToCharge') === 0 ? 'NO CHARGE' : '', v.num('/Io/AllowToDischarge') === 0 ? 'NO DISCHARGE' : '']
    .filter(Boolean)
    .join('/')
    .replace('/NO ', '/');
  row(
    'Charge limits',
    `CVL ${v.fmt('/Info/MaxChargeVoltage', 2, ' V')}   CCL ${v.fmt('/Info/MaxChargeCurrent', 1, ' A')}   DCL ${v.fmt('/Info/MaxDischargeCurrent', 1, ' A')}${io ? `   ${io}` : ''}`,
  );

  const cells = cellList(v);
  const min = v.num('/System/MinCellVoltage');
  const max = v.num('/System/MaxCellVoltage');
  const diff = v.num('/Voltages/Diff') ?? (min !== undefined && max !== undefined ? max - min : undefined);
  const cellId = (p: string) => (v.str(p) ? ` (${v.str(p)})` : '');
  const balancing = v.num('/Balancing');
  row(
    `Cells${cells.length ? ` (${cells.length})` : ''}`,
    `min ${v.fmt('/System/MinCellVoltage', 3)}${cellId('/System/MinVoltageCellId')}  max ${v.fmt('/System/MaxCellVoltage', 3)}${cellId('/System/MaxVoltageCellId')}  diff ${fmtNum(diff, 3, ' V')}${balancing === 1 ? '  balancing*' : ''}`,
  );
  for (let i = 0; i < cells.length; i += 8) {
    const chunk = cells.slice(i, i + 8);
    const label = `  ${chunk[0]!.n}-${chunk[chunk.length - 1]!.n}`;
    out.push(label.padEnd(LABEL) + chunk.map((c) => `${fmtNum(c.v, 3)}${c.balancing ? '*' : ' '}`).join(' '));
  }

  const alarms = activeAlarms(s.items);
  const alarmText = alarms.map((a) => `${a.name} ${a.level === 1 ? 'warning' : a.level === 2 ? 'ALARM' : `(${a.level})`}`);
  out.push(...wrapList('Alarms', alarmText.length ? alarmText : ['none']));
  const problem = v.str('/Vbat/LastProblem');
  if (problem) out.push('Last problem'.padEnd(LABEL) + problem);
  const age = s.lastChange === undefined ? '' : `, last ${((now - s.lastChange) / 1000).toFixed(1)} s ago`;
  row('D-Bus', `${s.items.size} paths, ${s.updates} changes seen${age}`);
  return out;
}

/** One line per update for pipes and logs, e.g. for `vbat demo | tee log`. */
export function renderLine(s: Snapshot, now = Date.now()): string {
  const v = new Values(s.items);
  if (!s.owner) return `${clock(now)} ${s.service} is not on the bus`;
  const connected = v.num('/Connected');
  const state = connected === 1 ? 'Connected' : connected === undefined ? 'Connected ---' : 'Disconnected';
  const alarms = activeAlarms(s.items);
  const min = v.num('/System/MinCellVoltage');
  const max = v.num('/System/MaxCellVoltage');
  const parts = [
    clock(now),
    state,
    `SoC ${v.fmt('/Soc', 1, '%')}`,
    `${v.fmt('/Dc/0/Voltage', 2, 'V')} ${v.fmt('/Dc/0/Current', 1, 'A', true)} ${v.fmt('/Dc/0/Power', 0, 'W', true)}`,
    v.fmt('/Dc/0/Temperature', 1, '°C'),
    `CVL ${v.fmt('/Info/MaxChargeVoltage', 2, 'V')} CCL ${v.fmt('/Info/MaxChargeCurrent', 0, 'A')} DCL ${v.fmt('/Info/MaxDischargeCurrent', 0, 'A')}`,
    `cells ${fmtNum(min, 3)}-${fmtNum(max, 3, 'V')}`,
    `alarms ${alarms.length ? alarms.map((a) => `${a.name}=${a.level}`).join(',') : 'none'}`,
  ];
  if (v.has('/Vbat/MessagesAccepted')) parts.push(`msgs ${v.fmt('/Vbat/MessagesAccepted', 0)}`);
  return parts.join(' ');
}

/** The `--json` snapshot: every path with value, D-Bus type and text, sorted by path. */
export function snapshotJson(s: Snapshot): {
  service: string;
  owner: string | null;
  paths: number;
  items: Record<string, { value: unknown; type: string; text: string }>;
} {
  const items: Record<string, { value: unknown; type: string; text: string }> = {};
  for (const path of [...s.items.keys()].sort()) {
    const it = s.items.get(path)!;
    items[path] = { value: jsonValue(it.value), type: it.type, text: it.text };
  }
  return { service: s.service, owner: s.owner ?? null, paths: s.items.size, items };
}

/** BigInt (D-Bus x/t) as a number when exact, else as a string; everything else unchanged. */
function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v && typeof v === 'object' && 'signature' in v && 'value' in v) return jsonValue((v as { value: unknown }).value); // nested Variant
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

export function activeAlarms(items: Map<string, WatchedItem>): { name: string; level: number }[] {
  const out: { name: string; level: number }[] = [];
  for (const [path, it] of items) {
    if (!path.startsWith('/Alarms/')) continue;
    const n = toNumber(it.value);
    if (n !== undefined && n !== 0) out.push({ name: path.slice('/Alarms/'.length), level: n });
  }
  return out.sort((a, b) => b.level - a.level || a.name.localeCompare(b.name));
}

function cellList(v: Values): { n: number; v: number | undefined; balancing: boolean }[] {
  const out: { n: number; v: number | undefined; balancing: boolean }[] = [];
  for (let n = 1; n <= 64; n++) {
    const x = v.num(`/Voltages/Cell${n}`);
    if (x === undefined) continue;
    out.push({ n, v: x, balancing: v.num(`/Balances/Cell${n}`) === 1 });
  }
  return out;
}

class Values {
  constructor(private readonly items: Map<string, WatchedItem>) {}
  has(path: string): boolean {
    return this.items.has(path);
  }
  num(path: string): number | undefined {
    return toNumber(this.items.get(path)?.value);
  }
  str(path: string): string {
    const v = this.items.get(path)?.value;
    return typeof v === 'string' ? v : '';
  }
  fmt(path: string, decimals: number, unit = '', signed = false): string {
    return fmtNum(this.num(path), decimals, unit, signed);
  }
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return undefined;
}

function fmtNum(n: number | undefined, decimals: number, unit = '', signed = false): string {
  if (n === undefined) return '---';
  const s = n.toFixed(decimals);
  return `${signed && n > 0 && s !== (0).toFixed(decimals) ? '+' : ''}${s}${unit}`;
}

function bar(pct: number | undefined, width: number): string {
  if (pct === undefined) return `[${' '.repeat(width)}]`;
  const filled = Math.round((Math.max(0, Math.min(100, pct)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function duration(seconds: number): string {
  if (seconds <= 0) return '0m';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m`;
}

function clock(now: number): string {
  return new Date(now).toTimeString().slice(0, 8);
}

function spread(left: string, right: string): string {
  const gap = WIDTH - 1 - left.length - right.length;
  return gap >= 1 ? left + ' '.repeat(gap) + right : `${left} ${right}`;
}

/** `Label          a, b, c` wrapped to the width, continuation lines indented. */
function wrapList(label: string, entries: string[]): string[] {
  const out: string[] = [];
  let line = label.padEnd(LABEL);
  let first = true;
  for (const e of entries) {
    const add = first ? e : `, ${e}`;
    if (!first && line.length + add.length > WIDTH - 1) {
      out.push(line + ',');
      line = ' '.repeat(LABEL) + e;
    } else line += add;
    first = false;
  }
  out.push(line);
  return out;
}

function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

/** How long ago the last valid message was, as of vbat's last diagnostics refresh. */
function messageAge(lastMessageTime: number | undefined, now: number): string {
  if (lastMessageTime === undefined) return '';
  const s = Math.max(0, Math.round(now / 1000 - lastMessageTime));
  return `, last ${s < 120 ? `${s} s` : `${Math.round(s / 60)} min`} ago`;
}
