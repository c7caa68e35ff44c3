/**
 * The release as a user gets it: `npm run package` builds the tarball (into a temp folder, so
 * tests never touch release/), which is unpacked with the system's tar into a fresh folder under
 * os.tmpdir() — no node_modules there or above, as on a GX device.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { runCommand as runSupportCommand } from '../support/cli.js';
import { repoRoot } from '../support/paths.js';

export const VERSION = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

export interface Release {
  /** Temp folder holding everything below; remove() deletes it. */
  readonly tmp: string;
  readonly tarball: string;
  /** What `npm run package` printed. */
  readonly buildOutput: string;
  /** A fresh folder the tarball was unpacked into: the program is in `${unpacked}/vbat`. */
  readonly unpacked: string;
  remove(): void;
}

export function buildRelease(tag: string): Release {
  const tmp = mkdtempSync(join(tmpdir(), `vbat-${tag}-`));
  const out = join(tmp, 'out');
  const r = spawnSync('npm', ['run', '--silent', 'package', '--', '--out', out], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`npm run package failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  const tarball = join(out, `vbat-${VERSION}.tar.gz`);
  const unpacked = join(tmp, 'unpacked');
  unpackInto(tarball, unpacked);
  return { tmp, tarball, buildOutput: r.stdout, unpacked, remove: () => rmSync(tmp, { recursive: true, force: true }) };
}

export function unpackInto(tarball: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
}

/** The folders from `dir` up to / that hold a node_modules (should be none). */
export function nodeModulesAbove(dir: string): string[] {
  const found: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) found.push(join(d, 'node_modules'));
    if (dirname(d) === d) return found;
  }
}

/** An environment without anything that could make Node find modules elsewhere. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  return env;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded); by default with a clean environment. */
export function runCommand(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return runSupportCommand(cmd, args, { ...opts, env: opts.env ?? cleanEnv() });
}

/**
 * Everything below `root`, one line per entry: path, type, mode, size, mtime and content hash (or
 * link target). Two equal listings mean nothing was written in between.
 */
export function listing(root: string): string[] {
  const lines: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const st = lstatSync(abs);
      const rel = relative(root, abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) lines.push(`${rel} link -> ${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        lines.push(`${rel}/ dir ${mode}`);
        walk(abs);
      } else lines.push(`${rel} file ${mode} ${st.size} ${st.mtimeMs} ${createHash('sha256').update(readFileSync(abs)).digest('hex')}`);
    }
  };
  walk(root);
  return lines;
}

/** Relative paths of the regular files below `dir`, sorted. */
export function filesBelow(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      if (lstatSync(abs).isDirectory()) walk(abs);
      else out.push(relative(dir, abs));
    }
  };
  walk(dir);
  return out.sort();
}
