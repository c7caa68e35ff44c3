/** Plain-text rendering of a check result: one row per path, readable at a glance. */
import { formatProblem } from '../errors.js';
import type { CheckedPath, CheckedPayload, CheckedSet, CheckResult, CheckStep, WritablePath } from './check.js';

function marks(p: CheckedPath): string {
  const m: string[] = [];
  if (p.source === 'derived') m.push('derived');
  if (p.source === 'held') m.push('derived (kept)');
  if (p.source === 'default') m.push('default');
  if (p.outOfRange) m.push('OUT OF RANGE');
  else if (p.warning) m.push('WARNING');
  if (p.invalid) m.push('invalid');
  return m.join(', ');
}

/**
 * A number as a person reads it: the double's float noise gone (-632.4000000000001 → -632.4), as
 * GUIs show it. 12 significant digits keep every digit a BMS sends; --json keeps the exact double.
 */
export function displayNumber(n: number): string {
  return Number.isInteger(n) || !Number.isFinite(n) ? String(n) : String(Number(n.toPrecision(12)));
}

function valueText(p: { value: CheckedPath['value'] }): string {
  if (p.value === null) return '(invalid)';
  if (typeof p.value === 'number') return displayNumber(p.value);
  return typeof p.value === 'string' ? JSON.stringify(p.value) : String(p.value);
}

function stepLines(steps: CheckStep[]): string[] {
  const out: string[] = ['  steps:'];
  for (const s of steps) {
    const what = s.topic ? `${s.topic}${s.outcome ? ` → ${s.outcome}` : ''}` : 'clock';
    out.push(`  +${displayNumber(s.at)}s  ${what}`);
    for (const l of s.log) out.push(`      ${l}`);
    for (const c of s.changed) out.push(`      ${c.path} = ${valueText(c)}  (${c.text})`);
  }
  return out;
}

export function renderCheck(r: CheckResult): string {
  const out: string[] = [];
  if (r.problems.length) {
    out.push(`${r.mapping.file}: the mapping has ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}:`);
    for (const p of r.problems) out.push(`  ${formatProblem(p)}`);
    return out.join('\n');
  }
  if (r.batteries) {
    for (const b of r.batteries) {
      out.push(`battery ${b.name}: mapping ${b.mapping.file} (${b.mapping.name}): ${b.mapping.paths} paths, OK`);
      out.push(...writableLines(b.writable));
      for (const payload of b.payloads) renderPayload(out, payload);
      out.push('');
    }
    return out.join('\n').trimEnd();
  }
  out.push(`mapping ${r.mapping.file} (${r.mapping.name}): ${r.mapping.paths} paths, OK`);
  out.push(...writableLines(r.writable));
  for (const payload of r.payloads) renderPayload(out, payload);
  return out.join('\n');
}

function renderPayload(out: string[], payload: CheckedPayload): void {
  out.push('', `== ${payload.file}`);
  if (payload.paths.length === 0 && !payload.error) {
    out.push(...payload.sets.map(setLine));
    return;
  }
  if (payload.ignored) out.push(`  (${payload.ignored} messages on topics outside the filter, or on its availability topic, ignored)`);
  for (const c of payload.collisions) out.push(`  KEY COLLISION ${c}: the values overwrite each other`);
  for (const ref of payload.refused) out.push(`  refused message on ${ref.topic}: ${ref.reason}`);
  if (payload.error) {
    out.push(`  ERROR: ${payload.error}`);
    return;
  }
  if (payload.steps) out.push(...stepLines(payload.steps), '  final state:');
  const rows = payload.paths.map((p) => [p.path, valueText(p), p.value === null ? 'ai' : p.type, p.text, marks(p)]);
  const widths = [0, 1, 2, 3].map((c) =>
    Math.min(c === 1 ? 24 : 40, Math.max(...rows.map((row) => row[c]!.length), ['PATH', 'VALUE', 'TYPE', 'TEXT'][c]!.length)),
  );
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd();
  out.push(line(['PATH', 'VALUE', 'TYPE', 'TEXT', 'MARKS']));
  for (const row of rows) out.push(line(row));
  for (const p of payload.paths) if (p.warning) out.push(`  warning: ${p.path}: ${p.warning}`);
  const valid = payload.paths.filter((p) => !p.invalid).length;
  const derived = payload.paths.filter((p) => p.source === 'derived' || p.source === 'held').length;
  const warnings = payload.paths.filter((p) => p.warning).length;
  out.push(
    `${payload.paths.length} paths: ${valid} valid, ${payload.paths.length - valid} invalid, ${derived} derived, ${warnings} warnings`,
  );
  if (payload.missingRequired.length) {
    out.push(`REJECTED: required input missing or invalid for ${payload.missingRequired.join(', ')} — vbat would drop this message`);
  } else if (payload.stale) out.push('STALE at the end: /Connected 0 and every data path invalid (no fresh data within the timeout)');
  out.push(...payload.sets.map(setLine));
}
function writableLines(writable: WritablePath[]): string[] {
  if (writable.length === 0) return ['writable paths: none (no path declares a command: SetValue on a data path returns 1)'];
  return [
    'writable paths (SetValue):',
    ...writable.map((w) =>
      w.command
        ? `  ${w.path} (${w.type}) → publishes on ${w.command.topic} (QoS ${w.command.qos}${w.command.retain ? ', retained' : ''}; confirmed within ${w.command.confirm} s or set back; at most one command per ${w.command.minInterval} s)`
        : `  ${w.path} (${w.type}) → kept on D-Bus only, nothing is published`,
    ),
  ];
}

function setLine(s: CheckedSet): string {
  const what = `SetValue ${s.path} = ${s.value === null ? '?' : JSON.stringify(s.value)}`;
  if (s.code !== 0) return `  ${what} → returns ${s.code}, publishes nothing: ${s.reason}`;
  if (s.topic === undefined) return `  ${what} → returns 0: ${s.reason}`;
  return `  ${what} → publishes ${JSON.stringify(s.payload)} on ${s.topic} (QoS ${s.qos}${s.retain ? ', retained' : ''}), returns 0`;
}
