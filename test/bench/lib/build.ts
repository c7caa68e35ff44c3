/**
 * The processes the benchmark measures run as compiled JavaScript, as users run them (no tsx
 * transpiling at start-up): src/ and the floor process are compiled with tsc into
 * test/bench/results/build/ (a private copy: dist/ stays untouched). vbat finds its mappings and
 * schemas next to its code, so the build folder gets links to the repository's.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../support/paths.js';
import { serviceNodeFlags } from '../../support/service-flags.js';

export const BENCH_DIR = join(repoRoot, 'test', 'bench');
export const RESULTS_DIR = join(BENCH_DIR, 'results');
const BUILD_DIR = join(RESULTS_DIR, 'build');

export interface Build {
  /** vbat's command line, compiled. */
  vbatMain: string;
  /** The floor process (a bare MQTT subscriber / D-Bus name owner), compiled. */
  floorProcess: string;
  /** How long tsc took, ms. */
  ms: number;
  /** tsc's complaints, if any (it still emits; src/ may be mid-edit by someone else). */
  diagnostics?: string;
  /** Node.js flags every measured process gets: the ones service/run gives vbat on a device. */
  nodeFlags: string[];
}

/** The flags service/run starts vbat with on a GX device, for the Node.js running the benchmark. */
export function deviceNodeFlags(): string[] {
  return serviceNodeFlags(Number(process.versions.node.split('.')[0]));
}

export async function build(nodeFlags = deviceNodeFlags()): Promise<Build> {
  const t = Date.now();
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const diagnostics = await new Promise<string | undefined>((resolve, reject) => {
    execFile(
      process.execPath,
      [tsc, '-p', join(BENCH_DIR, 'tsconfig.bench.json')],
      { cwd: repoRoot, timeout: 180_000 },
      (err, stdout, stderr) => {
        if (err && (err as { killed?: boolean }).killed) reject(new Error('tsc did not finish within 180 s'));
        else resolve(err ? `${stdout}${stderr}`.trim() : undefined);
      },
    );
  });
  for (const dir of ['mappings', 'schemas']) {
    const link = join(BUILD_DIR, dir);
    const st = lstatSync(link, { throwIfNoEntry: false });
    if (st && !st.isSymbolicLink()) throw new Error(`${link} exists and is not a link; remove it by hand`);
    if (!st) symlinkSync(join(repoRoot, dir), link, 'dir');
  }
  const out: Build = {
    vbatMain: join(BUILD_DIR, 'src', 'cli', 'main.js'),
    floorProcess: join(BUILD_DIR, 'test', 'bench', 'floor-process.js'),
    ms: Date.now() - t,
    nodeFlags,
    ...(diagnostics ? { diagnostics } : {}),
  };
  for (const f of [out.vbatMain, out.floorProcess])
    if (!existsSync(f)) throw new Error(`build produced no ${f}${diagnostics ? `:\n${diagnostics}` : ''}`);
  return out;
}

const RELEASE_DIR = join(RESULTS_DIR, 'release');

function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${(err as Error).message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

let release: Promise<string> | undefined;

/**
 * The release bundle as GX devices run it (`npm run package`: one esbuild-bundled vbat.js with its
 * mappings and schemas), unpacked into test/bench/results/release/; built once per bench run.
 * Returns the path of vbat.js.
 */
export function buildRelease(): Promise<string> {
  release ??= packageRelease();
  return release;
}

async function packageRelease(): Promise<string> {
  rmSync(RELEASE_DIR, { recursive: true, force: true });
  mkdirSync(RELEASE_DIR, { recursive: true });
  await run(process.execPath, [join(repoRoot, 'service', 'build-release.mjs'), '--out', RELEASE_DIR], repoRoot, 120_000);
  const tarball = readdirSync(RELEASE_DIR).find((f) => f.endsWith('.tar.gz'));
  if (!tarball) throw new Error('npm run package wrote no tarball');
  await run('tar', ['-xzf', tarball], RELEASE_DIR, 60_000);
  // On a device no package.json sits above vbat.js, so it is CommonJS; here the repository's
  // "type": "module" would apply: say so explicitly for the unpacked copy.
  writeFileSync(join(RELEASE_DIR, 'package.json'), '{"type": "commonjs"}\n');
  const main = join(RELEASE_DIR, 'vbat', 'vbat.js');
  if (!existsSync(main)) throw new Error(`the release tarball has no vbat/vbat.js`);
  return main;
}
