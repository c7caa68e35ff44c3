#!/usr/bin/env node
/**
 * `npm run package`: builds the release tarball for GX devices (Venus OS on a Cerbo GX, a
 * Raspberry Pi, ...), which only have Node.js — no npm, no compiler, no node_modules.
 *
 *   release/vbat-<version>.tar.gz      (--out DIR writes it elsewhere)
 *     vbat/vbat.js                     the whole program, one file bundled by esbuild (CommonJS)
 *     vbat/mappings/ vbat/schemas/     data the program finds beside itself (src/util/package-root.ts)
 *     vbat/config.sample.yaml          copied to config.yaml on the first install
 *     vbat/service/run, service/log/run   daemontools service (multilog to /var/log/vbat)
 *     vbat/install.sh uninstall.sh restart.sh
 *     vbat/VERSION README.md THIRD-PARTY-NOTICES.txt
 *
 * Why CommonJS: dbus-next, mqtt and their dependencies are CommonJS and call require() at run time
 * (some inside functions), which an ESM bundle can only serve through a createRequire shim; and a
 * .js file is CommonJS wherever no package.json says otherwise, so vbat.js runs as it is. The one
 * ESM-only construct in src, import.meta.url, is defined as the bundle file's own URL.
 *
 * Optional modules are never bundled: their require() gets a stub that throws (the native addons
 * usocket, bufferutil, utf-8-validate, and supports-color; every caller catches it and goes on
 * without) or returns null (x11, which dbus-next only uses for X11 session-bus discovery). So the
 * bundle requires nothing but Node's built-ins, and a module of that name lying around on the
 * device is never picked up.
 *
 * The tarball is written here (ustar + gzip) rather than by the system's tar, so every platform
 * builds the same bytes: fixed modes, owner root, mtime from SOURCE_DATE_EPOCH or the build time.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));

const { values: opts } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = resolve(opts.out ?? join(repo, 'release'));

/** Optional native modules: what require() of them gives in the bundle. */
const ABSENT = {
  usocket: "throw new Error('usocket (native) is not part of the vbat bundle');",
  bufferutil: "throw new Error('bufferutil (native) is not part of the vbat bundle');",
  'utf-8-validate': "throw new Error('utf-8-validate (native) is not part of the vbat bundle');",
  x11: 'module.exports = null;',
  // debug (under mqtt) colours its output with it when present; vbat does not use debug's output.
  'supports-color': "throw new Error('supports-color is not part of the vbat bundle');",
};

const absentModules = {
  name: 'vbat-absent-modules',
  setup(b) {
    const filter = new RegExp(
      `^(${Object.keys(ABSENT)
        .map((n) => n.replace(/[-/]/g, '\\$&'))
        .join('|')})$`,
    );
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'vbat-absent' }));
    b.onLoad({ filter: /.*/, namespace: 'vbat-absent' }, (args) => ({ contents: ABSENT[args.path], loader: 'js' }));
  },
};

async function bundle() {
  const result = await build({
    absWorkingDir: repo,
    entryPoints: ['src/cli/main.ts'],
    bundle: true,
    platform: 'node',
    target: 'node18',
    format: 'cjs',
    outfile: 'vbat.js',
    write: false,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'eof',
    charset: 'ascii', // see asciiOnly()
    plugins: [absentModules],
    define: { 'import.meta.url': '__vbat_import_meta_url' },
    // "use strict" first, as esbuild would put it without a banner: the sources are ES modules.
    banner: { js: `"use strict";\nvar __vbat_import_meta_url = require("node:url").pathToFileURL(__filename).href;` },
  });
  const inputs = Object.keys(result.metafile.inputs);
  const native = inputs.filter((f) => f.endsWith('.node'));
  if (native.length) throw new Error(`native addons would be bundled: ${native.join(', ')}`);
  return { code: asciiOnly(result.outputFiles[0].text), inputs };
}

/**
 * One non-ASCII character anywhere in the bundle makes V8 keep its whole source (2 MB, held for
 * as long as vbat runs) as a two-byte string: twice the memory. esbuild's charset: 'ascii' escapes
 * strings, regular expressions and names but keeps comments as written; what is left is escaped
 * here. \uXXXX means the same character wherever it could stand (and is plain text in a comment).
 */
function asciiOnly(text) {
  const out = text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return out;
}

/** License texts of every package the bundle contains. */
function notices(inputs) {
  const dirs = new Set();
  for (const f of inputs) {
    const i = f.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const parts = f.slice(i + 'node_modules/'.length).split('/');
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    dirs.add(f.slice(0, i) + 'node_modules/' + name);
  }
  const blocks = [...dirs].sort().map((d) => {
    const dir = join(repo, d);
    const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const licenseFile = readdirSync(dir).find((n) => /^licen[cs]e(\.(md|txt))?$/i.test(n));
    const named = (l) => (typeof l === 'object' && l ? l.type : l);
    const license = named(p.license) ?? (Array.isArray(p.licenses) ? p.licenses.map(named).join(', ') : undefined);
    const text = licenseFile
      ? readFileSync(join(dir, licenseFile), 'utf8').trim()
      : `(the package ships no license file; package.json says: ${license ?? 'nothing'})`;
    return `${'='.repeat(78)}\n${p.name} ${p.version}${license ? ` — ${license}` : ''}\n${'='.repeat(78)}\n\n${text}\n`;
  });
  return `vbat ${pkg.version} (${pkg.license}) bundles these packages in vbat.js:\n\n${blocks.join('\n')}`;
}

/** Every file below `dir` (sorted), as [path relative to the repo, absolute path]. */
function tree(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      if (statSync(abs).isDirectory()) walk(abs);
      else out.push([relative(repo, abs).split(sep).join('/'), abs]);
    }
  };
  walk(join(repo, dir));
  return out;
}

function need(file) {
  const abs = join(repo, file);
  if (!existsSync(abs)) throw new Error(`${file} is missing: the release needs it`);
  return readFileSync(abs);
}

// ---- a minimal ustar writer (regular files and directories, names < 100 bytes) ----

function header(name, { size = 0, mode, type, mtime }) {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 99) throw new Error(`path too long for the tarball: ${name}`);
  const octal = (off, len, n) => h.write(n.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
  h.write(name, 0, 100, 'utf8');
  octal(100, 8, mode);
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0' + '00', 257, 8, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function tarball(entries, mtime) {
  const blocks = [];
  const seenDirs = new Set();
  for (const { path, data, mode } of entries) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/') + '/';
      if (!seenDirs.has(d)) {
        seenDirs.add(d);
        blocks.push(header(d, { mode: 0o755, type: '5', mtime }));
      }
    }
    blocks.push(header(path, { size: data.length, mode, type: '0', mtime }));
    blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 9 });
}

// ---- assemble ----

const { code, inputs } = await bundle();
const EXEC = 0o755;
const FILE = 0o644;
const entries = [
  { path: 'vbat.js', data: Buffer.from(code), mode: EXEC },
  { path: 'VERSION', data: Buffer.from(`${pkg.version}\n`), mode: FILE },
  { path: 'README.md', data: need('README.md'), mode: FILE },
  { path: 'THIRD-PARTY-NOTICES.txt', data: Buffer.from(notices(inputs)), mode: FILE },
  { path: 'config.sample.yaml', data: need('config.sample.yaml'), mode: FILE },
  { path: 'install.sh', data: need('service/install.sh'), mode: EXEC },
  { path: 'uninstall.sh', data: need('service/uninstall.sh'), mode: EXEC },
  { path: 'restart.sh', data: need('service/restart.sh'), mode: EXEC },
  { path: 'service/run', data: need('service/run'), mode: EXEC },
  { path: 'service/log/run', data: need('service/log/run'), mode: EXEC },
  ...tree('mappings').map(([rel, abs]) => ({ path: rel, data: readFileSync(abs), mode: FILE })),
  ...tree('schemas').map(([rel, abs]) => ({ path: rel, data: readFileSync(abs), mode: FILE })),
].map((e) => ({ ...e, path: `vbat/${e.path}` }));
if (!entries.some((e) => e.path === 'vbat/schemas/mapping.schema.json')) throw new Error('schemas/mapping.schema.json is missing');

const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const mtime = Number.isInteger(epoch) && epoch > 0 ? epoch : Math.floor(Date.now() / 1000);
const tgz = tarball(entries, mtime);
mkdirSync(outDir, { recursive: true });
const file = join(outDir, `vbat-${pkg.version}.tar.gz`);
writeFileSync(file, tgz);

const kb = (n) => `${(n / 1024).toFixed(0)} KiB`;
process.stdout.write(
  `${file}: ${kb(tgz.length)} (${entries.length} files, ${kb(entries.reduce((s, e) => s + e.data.length, 0))} unpacked)\n` +
    entries.map((e) => `  ${e.mode === EXEC ? 'x' : ' '} ${String(e.data.length).padStart(8)}  ${e.path}\n`).join(''),
);
