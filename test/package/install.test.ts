/**
 * install.sh, uninstall.sh, restart.sh and service/run from the release tarball, run under a
 * temp root (--root / VBAT_ROOT) standing in for a GX device's /: every file they write is
 * checked, and running them again must change nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildRelease, cleanEnv, filesBelow, listing, runCommand, unpackInto, VERSION, type Release } from './release.js';

const INSTALL = 'data/apps/available/vbat';
const RC_LINE = 'sh /data/apps/available/vbat/install.sh || true';
/** What newRoot() puts there: the parts of a GX device install.sh checks. */
const DEVICE_FILES = ['etc/venus/image-type', 'usr/bin/node'];

let rel: Release;
let src: string;
let releaseFiles: string[];
before(() => {
  rel = buildRelease('install');
  src = join(rel.unpacked, 'vbat');
  releaseFiles = filesBelow(src);
});
after(() => rel?.remove());

let roots = 0;
/**
 * A GX device's / as install.sh sees it: /etc/venus/image-type and /usr/bin/node (the Node.js
 * running these tests, like the Large image's), unless told otherwise.
 */
function newRoot(device: { image?: string | null; node?: string | null } = {}): string {
  const root = join(rel.tmp, `root${++roots}`);
  mkdirSync(root);
  const image = device.image === undefined ? 'large' : device.image;
  if (image !== null) {
    mkdirSync(join(root, 'etc/venus'), { recursive: true });
    writeFileSync(join(root, 'etc/venus/image-type'), `${image}\n`);
  }
  const node = device.node === undefined ? process.execPath : device.node;
  if (node !== null) {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync(node, join(root, 'usr/bin/node'));
  }
  return root;
}

async function sh(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await runCommand(script, args, { cwd: rel.tmp, env: cleanEnv(env) });
  return { ...r, out: r.stdout + r.stderr };
}
const install = (root: string, from = join(src, 'install.sh')) => sh(from, ['--root', root]);
const uninstall = (root: string, ...args: string[]) => sh(join(root, INSTALL, 'uninstall.sh'), ['--root', root, ...args]);
const read = (root: string, p: string) => readFileSync(join(root, p), 'utf8');
const mode = (root: string, p: string) => statSync(join(root, p)).mode & 0o777;

test('the first install (no rc.local yet) writes the release to /data/apps/available/vbat, config.yaml, the /service/vbat link and the rc.local line — nothing else', async () => {
  const root = newRoot();
  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`vbat ${VERSION.replace(/\./g, '\\.')}: installing into /data/apps/available/vbat`));
  assert.match(r.out, /created \/data\/apps\/available\/vbat\/config\.yaml from the sample/);
  assert.match(r.out, /linked \/service\/vbat -> \/data\/apps\/available\/vbat\/service/);
  assert.match(r.out, /nothing started/);

  assert.deepEqual(
    filesBelow(root),
    [...releaseFiles.map((f) => `${INSTALL}/${f}`), `${INSTALL}/config.yaml`, 'data/rc.local', 'service/vbat', ...DEVICE_FILES].sort(),
  );
  for (const f of releaseFiles) {
    assert.deepEqual(readFileSync(join(root, INSTALL, f)), readFileSync(join(src, f)), f);
    assert.equal(mode(root, `${INSTALL}/${f}`), statSync(join(src, f)).mode & 0o777, `mode of ${f}`);
  }
  assert.equal(read(root, `${INSTALL}/config.yaml`), read(src, 'config.sample.yaml'));
  assert.equal(mode(root, `${INSTALL}/config.yaml`), 0o600, 'config.yaml may hold a password');
  assert.ok(lstatSync(join(root, 'service/vbat')).isSymbolicLink());
  assert.equal(readlinkSync(join(root, 'service/vbat')), '/data/apps/available/vbat/service');
  assert.equal(read(root, 'data/rc.local'), `#!/bin/sh\n\n${RC_LINE}\n`);
  assert.equal(mode(root, 'data/rc.local'), 0o755, 'Venus OS runs rc.local only when it is executable');
});

test('installing again changes nothing: from the unpacked release, from /data/apps/available/vbat as rc.local does, with bash too', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  const first = listing(root);
  const rc = read(root, 'data/rc.local');

  const again = await install(root);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /updating \/data\/apps\/available\/vbat \(was [\d.]+\)\n {2}0 file\(s\) written/);
  assert.match(again.out, /keeping your \/data\/apps\/available\/vbat\/config\.yaml/);
  assert.deepEqual(listing(root), first);

  const boot = await sh(join(root, INSTALL, 'install.sh'), [], { VBAT_ROOT: root });
  assert.equal(boot.code, 0, boot.out);
  assert.match(boot.out, /installed in \/data\/apps\/available\/vbat/);
  assert.deepEqual(listing(root), first);

  const bash = await sh('bash', [join(src, 'install.sh'), `--root=${root}`]);
  assert.equal(bash.code, 0, bash.out);
  assert.deepEqual(listing(root), first);
  assert.equal(read(root, 'data/rc.local'), rc);
});

test('an update replaces the program files, keeps config.yaml and mappings of the user', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  const config = '# my battery\nmqtt: {url: "mqtt://192.168.1.10"}\nbatteries: [{name: house, topic: bms/house}]\n';
  writeFileSync(join(root, INSTALL, 'config.yaml'), config);
  // An older version: other program, other version, a mapping it did not have.
  writeFileSync(join(root, INSTALL, 'vbat.js'), 'old');
  writeFileSync(join(root, INSTALL, 'VERSION'), '0.0.1\n');
  rmSync(join(root, INSTALL, 'mappings/default.yaml'));
  writeFileSync(join(root, INSTALL, 'mappings/my-bms.yaml'), 'name: mine\n');

  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /updating \/data\/apps\/available\/vbat \(was 0\.0\.1\)\n {2}3 file\(s\) written/);
  assert.equal(read(root, `${INSTALL}/config.yaml`), config);
  assert.equal(mode(root, `${INSTALL}/config.yaml`), 0o600);
  for (const f of ['vbat.js', 'VERSION', 'mappings/default.yaml'])
    assert.deepEqual(readFileSync(join(root, INSTALL, f)), readFileSync(join(src, f)), f);
  assert.equal(mode(root, `${INSTALL}/vbat.js`), 0o755);
  assert.equal(read(root, `${INSTALL}/mappings/my-bms.yaml`), 'name: mine\n');
});

test('an update by unpacking over /data/apps/available (tar -xzf ... -C /data/apps/available) and running install.sh there keeps config.yaml', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  writeFileSync(join(root, INSTALL, 'config.yaml'), '# mine\n');
  unpackInto(rel.tarball, join(root, 'data/apps/available'));
  const r = await install(root, join(root, INSTALL, 'install.sh'));
  assert.equal(r.code, 0, r.out);
  assert.equal(read(root, `${INSTALL}/config.yaml`), '# mine\n');
  assert.deepEqual(filesBelow(join(root, INSTALL)), [...releaseFiles, 'config.yaml'].sort());
});

test("the user's rc.local keeps its lines; ours is added once, on a line of its own, and uninstall removes only it", async () => {
  const root = newRoot();
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data/rc.local'), '#!/bin/bash\n/data/other-driver/install.sh', { mode: 0o644 });
  assert.equal((await install(root)).code, 0);
  assert.equal(read(root, 'data/rc.local'), `#!/bin/bash\n/data/other-driver/install.sh\n${RC_LINE}\n`);
  assert.equal(mode(root, 'data/rc.local'), 0o755);
  assert.equal((await install(root)).code, 0);
  assert.equal(read(root, 'data/rc.local'), `#!/bin/bash\n/data/other-driver/install.sh\n${RC_LINE}\n`, 'not added twice');

  const u = await uninstall(root);
  assert.equal(u.code, 0, u.out);
  assert.equal(read(root, 'data/rc.local'), '#!/bin/bash\n/data/other-driver/install.sh\n');
  assert.equal(mode(root, 'data/rc.local'), 0o755);
});

test('uninstall removes the service link and the rc.local line, keeps /data/apps/available/vbat; --purge deletes it and the log', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  mkdirSync(join(root, 'var/log/vbat'), { recursive: true });
  writeFileSync(join(root, 'var/log/vbat/current'), 'log\n');

  const u = await uninstall(root);
  assert.equal(u.code, 0, u.out);
  assert.match(u.out, /removed \/service\/vbat/);
  assert.match(u.out, /removed the install\.sh line from \/data\/rc\.local/);
  assert.match(u.out, /kept \/data\/apps\/available\/vbat \(config\.yaml included\)/);
  assert.ok(!existsSync(join(root, 'service/vbat')) && !isLink(join(root, 'service/vbat')));
  assert.equal(read(root, 'data/rc.local'), '#!/bin/sh\n\n');
  assert.deepEqual(filesBelow(join(root, INSTALL)), [...releaseFiles, 'config.yaml'].sort());

  const twice = await uninstall(root);
  assert.equal(twice.code, 0, twice.out);

  const p = await uninstall(root, '--purge');
  assert.equal(p.code, 0, p.out);
  assert.match(p.out, /deleted \/data\/apps\/available\/vbat and \/var\/log\/vbat/);
  assert.deepEqual(filesBelow(root), ['data/rc.local', ...DEVICE_FILES]);
  assert.ok(!existsSync(join(root, 'var/log/vbat')) && !existsSync(join(root, INSTALL)));
});

test('install.sh repairs a /service/vbat link pointing elsewhere and refuses one that is not a link', async () => {
  const root = newRoot();
  mkdirSync(join(root, 'service'));
  symlinkSync('/data/etc/old-vbat/service', join(root, 'service/vbat'));
  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.equal(readlinkSync(join(root, 'service/vbat')), '/data/apps/available/vbat/service');

  unlinkSync(join(root, 'service/vbat'));
  mkdirSync(join(root, 'service/vbat'));
  const refused = await install(root);
  assert.equal(refused.code, 1);
  assert.match(refused.out, /\/service\/vbat exists and is not a link/);
});

test('restart.sh runs svc -t /service/vbat (under --root it only says so) and refuses when vbat is not installed', async () => {
  const root = newRoot();
  const none = await sh(join(src, 'restart.sh'), ['--root', root]);
  assert.equal(none.code, 1);
  assert.match(none.out, /vbat is not installed/);
  assert.equal((await install(root)).code, 0);
  const before = listing(root);
  const r = await sh(join(root, INSTALL, 'restart.sh'), [], { VBAT_ROOT: root });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /would run: svc -t \/service\/vbat/);
  assert.deepEqual(listing(root), before);
});

test('the scripts explain themselves and reject unknown options', async () => {
  for (const s of ['install.sh', 'uninstall.sh', 'restart.sh']) {
    const h = await sh(join(src, s), ['--help']);
    assert.equal(h.code, 0, h.out);
    assert.match(h.stdout, /Usage: \S+\.sh .*--root DIR/);
    const bad = await sh(join(src, s), ['--bogus']);
    assert.equal(bad.code, 2);
  }
});

test('service/run waits, saying so, while config.yaml is still the sample', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  const child = spawn('./run', [], {
    cwd: join(root, INSTALL, 'service'),
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const end = Date.now() + 5000;
    while (!/waiting for/.test(out) && Date.now() < end && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, new RegExp(`vbat: waiting for ${join(root, INSTALL)}/config\\.yaml to be edited \\(it is still the sample\\)`));
    assert.equal(child.exitCode, null, 'still waiting');
  } finally {
    // The script and its sleep: the process group this test started.
    if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
  }
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
