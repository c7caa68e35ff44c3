/**
 * Reads an INI file the way the seed reads its config.ini: Python's configparser with its
 * defaults. Lines starting with ; or # (after blanks) are comments, never a value's tail;
 * `key = value` or `key: value` (first delimiter); keys are case-insensitive, section names are
 * not; a more indented line continues the value above it; [DEFAULT] keys show through in every
 * section; %(key)s is replaced and %% is one %. A file configparser refuses is refused here too,
 * with its line, so an import never carries over a setting the seed itself could not read.
 */
import type { Problem } from '../errors.js';

export interface IniEntry {
  value: string;
  line: number;
}

export interface IniFile {
  file: string;
  /** Section name → key (lower case) → entry; DEFAULT included, its keys not copied in. */
  sections: Map<string, Map<string, IniEntry>>;
}

export function parseIni(file: string, text: string): { ini: IniFile; problems: Problem[] } {
  const sections = new Map<string, Map<string, IniEntry>>([['DEFAULT', new Map()]]);
  const problems: Problem[] = [];
  let section: Map<string, IniEntry> | undefined;
  let sectionName = '';
  let last: { entry: IniEntry; indent: number } | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) {
      if (trimmed === '') last = undefined; // (configparser: an empty line ends a value)
      return;
    }
    const indent = raw.length - raw.trimStart().length;
    if (last && indent > last.indent) {
      last.entry.value += `\n${trimmed}`;
      return;
    }
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header) {
      sectionName = header[1]!;
      if (sections.has(sectionName) && sectionName !== 'DEFAULT') {
        problems.push({ file, line, reason: `section [${sectionName}] appears twice (configparser refuses the file)` });
      }
      section = sections.get(sectionName) ?? new Map();
      sections.set(sectionName, section);
      last = undefined;
      return;
    }
    if (!section) {
      problems.push({ file, line, reason: 'a setting before the first [SECTION] (configparser refuses the file)' });
      return;
    }
    const at = raw.search(/[=:]/);
    if (at <= 0) {
      problems.push({ file, line, reason: `"${trimmed}" is not key = value (configparser refuses the file)` });
      return;
    }
    const key = raw.slice(0, at).trim().toLowerCase();
    if (section.has(key))
      problems.push({ file, line, where: `[${sectionName}] ${key}`, reason: 'set twice (configparser refuses the file)' });
    const entry = { value: raw.slice(at + 1).trim(), line };
    section.set(key, entry);
    last = { entry, indent };
  });
  return { ini: { file, sections }, problems };
}

/**
 * A key's value as the seed's `config[section][key]` gives it: its own or [DEFAULT]'s, with
 * configparser's interpolation. Undefined when absent; a problem when interpolation would fail.
 */
export function iniValue(ini: IniFile, section: string, key: string, problem: (p: Problem) => void): IniEntry | undefined {
  const own = ini.sections.get(section);
  if (!own && section !== 'DEFAULT') return undefined;
  const lookup = (k: string) => own?.get(k) ?? ini.sections.get('DEFAULT')!.get(k);
  const entry = lookup(key);
  if (!entry) return undefined;
  let value = entry.value;
  for (let depth = 0; depth < 10 && value.includes('%'); depth++) {
    let bad: string | undefined;
    const next = value.replace(/%(%|\(([^)]*)\)s|)/g, (all, what: string, name: string | undefined) => {
      if (what === '%') return '\u0000';
      const ref = name !== undefined ? lookup(name.toLowerCase()) : undefined;
      if (!ref) bad = all;
      return ref?.value ?? all;
    });
    if (bad !== undefined) {
      problem({
        file: ini.file,
        line: entry.line,
        where: `[${section}] ${key}`,
        reason: `"${bad}" cannot be interpolated (configparser fails; write a % as %%)`,
      });
      return undefined;
    }
    value = next;
  }
  return { value: value.split('\u0000').join('%'), line: entry.line };
}
