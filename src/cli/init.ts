/**
 * `vbat init CAPTURE`: a draft mapping from what a BMS publishes. It recognises the usual field
 * names and shapes (voltage, current, power, soc, capacity, temperature, cell arrays and numbered
 * cells, ON/OFF switches, units from names like `_mv`), binds what it can to Victron paths with a
 * comment on every guess, and lists what it could not place. The draft is a start to edit, checked
 * by `vbat check` on the same capture; it never binds the DVCC charge limits on its own.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { DocumentBuilder } from '../input/index.js';
import { UsageError } from '../errors.js';
import { schemaPath } from '../util/package-root.js';
import { helpText, parseCommand, type CommandSpec } from './args.js';
import { captureMessages, type CapturedMessage } from './capture-file.js';

export const INIT_COMMAND = {
  name: 'init',
  usage: ['init CAPTURE [-o FILE]'],
  summary: 'Draft a mapping from a capture (vbat capture output, mosquitto_sub -v output or a payload).',
  description: [
    'Reads a capture, recognises the usual field names and shapes (voltage, current, power, SoC, capacity, temperatures, cell arrays and numbered cells, ON/OFF switches, mV/mA units from the names) and writes a draft mapping that binds them to Victron paths, with a comment on every guess and a list of the fields it could not place. The charge limits DVCC uses are never guessed. Check the draft with vbat check on the same capture, then edit it.',
  ],
  args: [['CAPTURE', 'what the BMS publishes: a vbat capture file, mosquitto_sub -v output or one JSON payload']],
  flags: {
    output: {
      type: 'string',
      arg: 'FILE',
      short: 'o',
      help: 'write the draft here (default: standard output); an existing file is not overwritten',
    },
  },
  notes: [
    'Example:\n  vbat capture --topic "my-bms/#" -o capture.jsonl\n  vbat init capture.jsonl -o my-bms.yaml\n  vbat check my-bms.yaml capture.jsonl',
  ],
} satisfies CommandSpec;

export async function init(args: string[], out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const { values, positionals } = parseCommand(INIT_COMMAND, args);
  if (values.help) {
    out.write(helpText(INIT_COMMAND));
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('needs one CAPTURE file (vbat init CAPTURE [-o FILE])');
  const draft = draftMapping(readFileSync(positionals[0]!, 'utf8'));
  if (values.output) {
    writeFileSync(values.output, draft, { flag: 'wx' });
    process.stderr.write(`wrote ${values.output}: check it with vbat check ${values.output} ${positionals[0]}\n`);
  } else out.write(draft);
  return 0;
}

interface Leaf {
  segments: string[];
  value: unknown;
}

interface Binding {
  path: string;
  entry: string;
  comment: string;
  uses: string[];
}

/** The draft mapping (YAML text) for a capture's text. */
export function draftMapping(text: string): string {
  const messages: CapturedMessage[] = captureMessages(text) ?? [{ topic: 'bms', payload: text, retained: false }];
  const topics = [...new Set(messages.map((m) => m.topic))];
  const last = parseJson(messages[messages.length - 1]!.payload);
  const json = topics.length === 1 && typeof last === 'object' && last !== null && !Array.isArray(last);
  const filter = json ? topics[0]! : treeFilter(topics);
  let doc: unknown = last;
  if (!json) {
    const builder = new DocumentBuilder({ input: { format: 'tree', merge: false }, topics: [filter] });
    for (const m of messages) {
      const r = builder.accept(m.topic, m.payload);
      if (r.ok) doc = r.doc;
    }
  }
  const leaves: Leaf[] = [];
  collect(doc, [], leaves);
  const used = new Set<string>();
  const bindings: Binding[] = [...cellBindings(doc, used), ...fieldBindings(leaves, used)];
  const unplaced = leaves.filter((l) => !used.has(key(l.segments)));
  const required = ['/Dc/0/Voltage', '/Dc/0/Current', '/Soc'].filter((p) => bindings.some((b) => b.path === p));

  const out: string[] = [
    `# yaml-language-server: $schema=${schemaPath('mapping.schema.json')}`,
    '#',
    `# Drafted by vbat init from ${messages.length} message${messages.length === 1 ? '' : 's'} on ${topics.length} topic${topics.length === 1 ? '' : 's'}.`,
    '# Every binding below is a guess from a field name: check each one, then run vbat check on',
    '# the capture. The DVCC charge limits (/Info/MaxChargeVoltage, /Info/MaxChargeCurrent,',
    '# /Info/MaxDischargeCurrent) are not guessed: add them only from data you trust.',
    '',
    'name: Draft mapping',
    'input:',
    `  format: ${json ? 'json' : 'tree'}`,
    `  topic: ${JSON.stringify(filter)}`,
  ];
  if (required.length) out.push(`required: [${required.join(', ')}]`);
  out.push('paths:');
  for (const b of bindings) out.push(`  # ${b.comment}`, `  ${b.path}: ${b.entry}`);
  if (unplaced.length) {
    out.push('', '# Not placed (no Victron path recognised from the name; bind them by hand if you need them):');
    for (const l of unplaced.slice(0, 200)) out.push(`#   ${expr(l.segments)} = ${JSON.stringify(l.value)}`);
    if (unplaced.length > 200) out.push(`#   ... and ${unplaced.length - 200} more`);
  }
  return `${out.join('\n')}\n`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The common first levels of the topics, then #: the levels below become the document's keys. */
function treeFilter(topics: string[]): string {
  const split = topics.map((t) => t.split('/'));
  const common: string[] = [];
  for (let i = 0; split.every((s) => i < s.length - 1 && s[i] === split[0]![i]); i++) common.push(split[0]![i]!);
  return [...common, '#'].join('/');
}

const key = (segs: string[]) => segs.join('\u0000');

function collect(v: unknown, segs: string[], out: Leaf[]): void {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) collect(x, [...segs, k], out);
  } else if (segs.length) out.push({ segments: segs, value: v });
}

/** A JSONata field path for segments: names that are not plain identifiers in backticks. */
function expr(segs: string[]): string {
  return segs.map((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? s : `\`${s}\``)).join('.');
}

/** The field's name for recognition: its segments lower-cased, a trailing state/value dropped. */
function nameOf(segs: string[]): string {
  const s = segs.map((x) => x.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
  while (s.length > 1 && ['state', 'value', 'reading', 'val'].includes(s[s.length - 1]!)) s.pop();
  return s.join('_').replace(/[^a-z0-9]+/g, '_');
}

const num = (v: unknown) =>
  typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined;
const isSwitch = (v: unknown) => typeof v === 'boolean' || (typeof v === 'string' && /^(on|off|true|false)$/i.test(v));
const NOT_A_READING =
  /protection|recovery|delay|limit|threshold|calibration|setting|alarm|over|under|max|min|delta|average|avg|difference|start|cycle|_count|sensors/;

interface Rule {
  path: string;
  name: RegExp;
  type: 'd' | 'i';
  text: string;
  what: string;
  switch?: boolean;
  exclude?: RegExp;
}

const RULES: Rule[] = [
  {
    path: '/Dc/0/Voltage',
    name: /(^|_)(total_|pack_|battery_|bat_)?(voltage|volt|v)(_mv|_v)?$/,
    exclude: /cell/,
    type: 'd',
    text: '%.2fV',
    what: 'the pack voltage',
  },
  {
    path: '/Dc/0/Current',
    name: /(^|_)(battery_|pack_|bat_)?(current|amps?|i)(_ma|_a)?$/,
    exclude: /charging|charge_|discharg/,
    type: 'd',
    text: '%.1fA',
    what: 'the battery current (+ charging)',
  },
  {
    path: '/Dc/0/Power',
    name: /(^|_)(battery_|pack_)?power(_w)?$/,
    exclude: /charging|charge_|discharg/,
    type: 'd',
    text: '%iW',
    what: 'the battery power',
  },
  {
    path: '/Soc',
    name: /(^|_)(soc|state_of_charge|capacity_percent|percent)(_pct|_percent)?$/,
    type: 'd',
    text: '%i%%',
    what: 'the state of charge',
  },
  { path: '/Soh', name: /(^|_)(soh|state_of_health)$/, type: 'd', text: '%i%%', what: 'the state of health' },
  {
    path: '/Capacity',
    name: /(^|_)(capacity_remaining|remaining_capacity|remain_capacity|remaining_ah)(_ah|_mah)?$|^capacity$/,
    type: 'd',
    text: '%.1fAh',
    what: 'the remaining capacity',
  },
  {
    path: '/InstalledCapacity',
    name: /(^|_)(full_charge_|nominal_|design_|installed_|total_battery_|battery_)capacity(_ah|_mah)?$/,
    type: 'd',
    text: '%.1fAh',
    what: 'the installed capacity',
  },
  { path: '/System/MOSTemperature', name: /(^|_)(mosfet|mos)_temp(erature)?$/, type: 'd', text: '%.1f°C', what: 'the MOSFET temperature' },
  {
    path: '/Dc/0/Temperature',
    name: /(^|_)(battery_|bat_)?temp(erature)?(_sensor)?_?1?$/,
    exclude: /mos|ambient|board/,
    type: 'd',
    text: '%.1f°C',
    what: 'the battery temperature',
  },
  {
    path: '/History/ChargeCycles',
    name: /(^|_)(charging_cycles|charge_cycles|cycle_count|cycles)$/,
    type: 'i',
    text: '%i',
    what: 'the charge cycle count',
  },
  { path: '/Balancing', name: /(^|_)balancing$/, switch: true, type: 'i', text: '%i', what: 'whether the BMS is balancing' },
  {
    path: '/Io/AllowToCharge',
    name: /(^|_)(charging|charge)(_enabled|_switch|_mos)?$/,
    switch: true,
    type: 'i',
    text: '%i',
    what: 'the charge switch',
  },
  {
    path: '/Io/AllowToDischarge',
    name: /(^|_)(discharging|discharge)(_enabled|_switch|_mos)?$/,
    switch: true,
    type: 'i',
    text: '%i',
    what: 'the discharge switch',
  },
];

function fieldBindings(leaves: Leaf[], used: Set<string>): Binding[] {
  const out: Binding[] = [];
  for (const rule of RULES) {
    const leaf = leaves.find((l) => {
      if (used.has(key(l.segments))) return false;
      const n = nameOf(l.segments);
      if (!rule.name.test(n) || rule.exclude?.test(n) || (!rule.switch && NOT_A_READING.test(n.replace(rule.name, '')))) return false;
      return rule.switch ? isSwitch(l.value) || l.value === 0 || l.value === 1 : num(l.value) !== undefined;
    });
    if (!leaf) continue;
    used.add(key(leaf.segments));
    const field = expr(leaf.segments);
    const n = nameOf(leaf.segments);
    const milli = /_m(v|a|ah)$/.exec(n)?.[1];
    let value = field;
    let note = '';
    if (rule.switch) value = `$onOff(${field})`;
    else if (milli) {
      value = `$unit(${field}, 'm${milli === 'ah' ? 'Ah' : milli.toUpperCase()}')`;
      note = `, in m${milli === 'ah' ? 'Ah' : milli.toUpperCase()} by its name`;
    } else if (rule.path === '/Dc/0/Voltage' && (num(leaf.value) ?? 0) > 1000) {
      value = `$unit(${field}, 'mV')`;
      note = ', in mV by its size';
    }
    const bounds = rule.path === '/Soc' || rule.path === '/Soh' ? ', min: 0, max: 100' : '';
    out.push({
      path: rule.path,
      entry: `{type: ${rule.type}, value: ${JSON.stringify(value)}, text: "${rule.text}"${bounds}}`,
      comment: `guess: ${field} (${JSON.stringify(leaf.value)}) looks like ${rule.what}${note}`,
      uses: [field],
    });
  }
  return out;
}

/** Cell voltages: an array of volts or millivolts, or numbered keys under one object. */
function cellBindings(doc: unknown, used: Set<string>): Binding[] {
  const found = findCells(doc, []);
  if (!found) return [];
  const { segs, count, milli, keys, all } = found;
  const at = expr(segs);
  const unitArg = milli ? ", 'mV'" : '';
  const out: Binding[] = [];
  const cellText = 'text: "%.3fV"';
  const scale = (e: string) => (milli ? `$unit(${e}, 'mV')` : e);
  if (!keys) {
    out.push({
      path: '/Voltages/Cell{n}',
      entry: `{range: [1, ${count}], type: d, value: ${JSON.stringify(scale(`${at}[{n} - 1]`))}, ${cellText}}`,
      comment: `guess: ${at} is an array of ${count} cell voltages${milli ? ' in mV' : ''}`,
      uses: [],
    });
    used.add(key(segs));
  } else {
    keys.forEach((k, i) => {
      const leafSegs = [...segs, ...k];
      used.add(key(leafSegs));
      out.push({
        path: `/Voltages/Cell${i + 1}`,
        entry: `{type: d, value: ${JSON.stringify(scale(expr(leafSegs)))}, ${cellText}}`,
        comment: `guess: ${expr(leafSegs)} is cell ${i + 1}${milli ? ' (mV)' : ''}`,
        uses: [],
      });
    });
  }
  // Statistics only where the cells are all that object holds under numbered keys.
  if (all) {
    const stat = (path: string, field: string, type: string, text: string, what: string) =>
      out.push({
        path,
        entry: `{type: ${type}, value: "$cells(${at}${unitArg}).${field}"${text ? `, text: "${text}"` : ''}}`,
        comment: what,
        uses: [],
      });
    stat('/System/MinCellVoltage', 'min', 'd', '%.3fV', 'the lowest cell');
    stat('/System/MinVoltageCellId', 'minId', 's', '', 'which cell is lowest');
    stat('/System/MaxCellVoltage', 'max', 'd', '%.3fV', 'the highest cell');
    stat('/System/MaxVoltageCellId', 'maxId', 's', '', 'which cell is highest');
    stat('/Voltages/Sum', 'sum', 'd', '%.2fV', 'the sum of the cells');
    stat('/Voltages/Diff', 'diff', 'd', '%.3fV', 'highest minus lowest cell');
    stat('/System/NrOfCellsPerBattery', 'count', 'i', '%i', 'the number of cells');
  }
  return out;
}

const CELL_VOLTS = (v: number) => v >= 1 && v <= 5;
const CELL_MILLIVOLTS = (v: number) => v >= 1000 && v <= 5000;

function findCells(
  v: unknown,
  segs: string[],
): { segs: string[]; count: number; milli: boolean; keys?: string[][]; all: boolean } | undefined {
  if (Array.isArray(v)) {
    const nums = v.map(num);
    if (v.length >= 2 && nums.every((n) => n !== undefined)) {
      const ns = nums as number[];
      if (ns.every(CELL_VOLTS) || ns.every(CELL_MILLIVOLTS)) return { segs, count: v.length, milli: ns.every(CELL_MILLIVOLTS), all: true };
    }
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  // Numbered keys sharing one spelling (cell_voltage_1, Cell1, cell_01_voltage), cells by name or by value.
  const groups = new Map<string, { n: number; k: string[]; value: number }[]>();
  for (const [k, x] of Object.entries(v)) {
    const m = /(\d+)\D*$/.exec(k);
    if (!m) continue;
    const inner = typeof x === 'object' && x !== null && !Array.isArray(x) && Object.keys(x).length === 1 ? Object.keys(x) : [];
    const value = num(inner.length ? (x as Record<string, unknown>)[inner[0]!] : x);
    if (value === undefined) continue;
    const pattern = k.replace(/\d+(?=\D*$)/, '#');
    const list = groups.get(pattern) ?? [];
    list.push({ n: Number(m[1]), k: [k, ...inner], value });
    groups.set(pattern, list);
  }
  for (const [pattern, list] of groups) {
    if (list.length < 2 || !/cell|^#$|^c#$|^v#$/i.test(pattern)) continue;
    const values = list.map((c) => c.value);
    const milli = values.every(CELL_MILLIVOLTS);
    if (!milli && !values.every(CELL_VOLTS)) continue;
    list.sort((a, b) => a.n - b.n);
    const numbered = Object.keys(v).filter((k) => /\d/.test(k)).length;
    return { segs, count: list.length, milli, keys: list.map((c) => c.k), all: numbered === list.length && segs.length > 0 };
  }
  for (const [k, x] of Object.entries(v)) {
    const r = findCells(x, [...segs, k]);
    if (r) return r;
  }
  return undefined;
}
