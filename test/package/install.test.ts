/**
 * install.sh, uninstall.sh, restart.sh and service/run from the release tarball, run under a
 * temp root (--root / VBAT_ROOT) standing in for a GX device's /: every file they write is
 * checked, and running them again must change nothing.
 */
import assert from 'node:assert/strict';
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
import { loadConfig } from '../../src/config/index.js';
import { fixture } from '../support/paths.js';
import { Proc } from '../support/process.js';
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

test('rc.local with "exit 0": our line goes before it, every line of the owner kept in its order', async () => {
  const root = newRoot();
  mkdirSync(join(root, 'data'));
  const owner = [
    '#!/bin/bash',
    '# my hooks',
    '/data/other-driver/install.sh',
    'echo started > /tmp/booted # not an exit',
    '',
    'exit 0',
    'echo after',
  ];
  writeFileSync(join(root, 'data/rc.local'), owner.join('\n') + '\n', { mode: 0o755 });
  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /added to \/data\/rc\.local/);
  assert.deepEqual(read(root, 'data/rc.local').split('\n'), [...owner.slice(0, 5), RC_LINE, ...owner.slice(5), '']);
  const once = read(root, 'data/rc.local');
  assert.equal((await install(root)).code, 0);
  assert.equal(read(root, 'data/rc.local'), once, 'not added twice');
  // And it really runs: the file as Venus OS runs it (sh), with our line pointed at a marker.
  const probe = once.replace(RC_LINE, `echo vbat-hook >> ${join(root, 'ran')}`).replace('/tmp/booted', join(root, 'booted'));
  writeFileSync(join(root, 'probe.sh'), probe.replace('/data/other-driver/install.sh', 'true'));
  const ran = await sh('sh', [join(root, 'probe.sh')]);
  assert.equal(ran.code, 0, ran.out);
  assert.equal(read(root, 'ran'), 'vbat-hook\n');
});

test('an exit inside a condition before the last line: our line goes right after the #! line and the opening comments', async () => {
  const root = newRoot();
  mkdirSync(join(root, 'data'));
  const owner = ['#!/bin/sh', '# boot hooks', '', '[ -f /data/no-hooks ] && exit 0', 'if true; then', '  /data/x.sh', '  exit 1', 'fi'];
  writeFileSync(join(root, 'data/rc.local'), owner.join('\n'), { mode: 0o755 });
  assert.equal((await install(root)).code, 0);
  assert.deepEqual(read(root, 'data/rc.local').split('\n'), [...owner.slice(0, 3), RC_LINE, ...owner.slice(3), '']);
});

test("with busybox's shell and tools (a userland like Venus OS's): the same install, rc.local edit and boot re-run", async (t) => {
  const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((b) => existsSync(b));
  if (!busybox) {
    if (process.env.CI === 'true') assert.fail('busybox is missing (bash test/support/system-deps.sh) and CI=true');
    t.skip('busybox is not installed');
    return;
  }
  const bin = join(rel.tmp, `busybox-bin${++roots}`);
  mkdirSync(bin);
  const applets = [
    'sh',
    'awk',
    'grep',
    'sed',
    'cmp',
    'readlink',
    'cat',
    'mkdir',
    'cp',
    'mv',
    'chmod',
    'rm',
    'ln',
    'dirname',
    'tail',
    'find',
    'tr',
    'printf',
  ];
  for (const a of applets) symlinkSync(busybox, join(bin, a));
  const env = { PATH: bin };
  const root = newRoot();
  mkdirSync(join(root, 'data'));
  const owner = ['#!/bin/sh', '/data/other-driver/install.sh', 'exit 0'];
  writeFileSync(join(root, 'data/rc.local'), owner.join('\n') + '\n', { mode: 0o755 });
  const r = await sh(busybox, ['sh', join(src, 'install.sh'), '--root', root], env);
  assert.equal(r.code, 0, r.out);
  assert.equal(read(root, 'data/rc.local'), `${owner[0]}\n${owner[1]}\n${RC_LINE}\nexit 0\n`);
  assert.equal(readlinkSync(join(root, 'service/vbat')), '/data/apps/available/vbat/service');
  const installed = listing(root);
  rmSync(join(root, 'service'), { recursive: true });
  const boot = await sh(busybox, ['sh', join(root, INSTALL, 'install.sh')], { ...env, VBAT_ROOT: root });
  assert.equal(boot.code, 0, boot.out);
  assert.deepEqual(
    listing(root).filter((l) => !l.startsWith('service/ ')),
    installed.filter((l) => !l.startsWith('service/ ')),
  );
});

test('custom startup scripts disabled (only rc.local.disabled): nothing is created, it says so and how to enable them', async () => {
  const root = newRoot();
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data/rc.local.disabled'), '#!/bin/sh\n/data/other-driver/install.sh\n', { mode: 0o755 });
  const before = listing(root);
  const r = await install(root);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /custom startup scripts are disabled on this device \(\/data\/rc\.local\.disabled\)/);
  assert.match(r.out, /nothing was installed/);
  assert.match(r.out, /Settings > General > Support\s+status > Re-enable custom startup scripts/);
  assert.deepEqual(listing(root), before, 'no rc.local (venus-platform would refuse to re-enable), no files, no link');
});

test('a boot: /service is rebuilt without our link; the rc.local line (install.sh in place) makes it again and changes nothing else', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  writeFileSync(join(root, INSTALL, 'config.yaml'), '# mine\n');
  const installed = listing(root);
  rmSync(join(root, 'service'), { recursive: true }); // what overlays.sh does to /service at boot
  const boot = await sh(join(root, INSTALL, 'install.sh'), [], { VBAT_ROOT: root });
  assert.equal(boot.code, 0, boot.out);
  assert.match(
    boot.out,
    /installed in \/data\/apps\/available\/vbat\n {2}linked \/service\/vbat -> \/data\/apps\/available\/vbat\/service/,
  );
  assert.deepEqual(
    listing(root).filter((l) => !l.startsWith('service/ ')),
    installed.filter((l) => !l.startsWith('service/ ')),
  );
  const again = await sh(join(root, INSTALL, 'install.sh'), [], { VBAT_ROOT: root });
  assert.equal(again.code, 0, again.out);
  assert.equal(again.out, `vbat ${VERSION}: installed in /data/apps/available/vbat\n  (--root ${root}: nothing started)\n`);
});

test('no Node.js, or one older than 18: one message with the way out, nothing written; not Venus OS: refused', async () => {
  const none = newRoot({ image: 'normal', node: null });
  const before = listing(none);
  const r = await install(none);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.out,
    /nothing was installed: vbat needs Node\.js 18 or newer and there is no Node\.js \(no \/usr\/bin\/node\); this device runs the normal image/,
  );
  assert.match(r.out, /Large image: Node 18 on v3\.10 to v3\.5x, Node 20 on v3\.60 and later; there is none for the CCGX/);
  assert.match(r.out, /Image type: Large, update, then run this install\.sh again/);
  assert.match(r.out, /remount-rw\.sh, but is gone after every firmware update/);
  assert.equal(r.out.trim().split('\n').length, 1, 'one message');
  assert.deepEqual(listing(none), before);

  const old = newRoot({ node: null });
  mkdirSync(join(old, 'usr/bin'), { recursive: true });
  writeFileSync(join(old, 'usr/bin/node'), '#!/bin/sh\necho v14.17.0\n', { mode: 0o755 }); // Venus OS v3.00's
  const o = await install(old);
  assert.equal(o.code, 1, o.out);
  assert.match(o.out, /and \/usr\/bin\/node is Node\.js v14\.17\.0; this device runs the large image/);

  const opkg = newRoot({ image: 'normal' });
  const n = await install(opkg);
  assert.equal(n.code, 0, n.out);
  assert.match(n.out, /is not part of the normal image: a firmware update removes it/);

  const notVenus = newRoot({ image: null });
  const v = await install(notVenus);
  assert.equal(v.code, 1, v.out);
  assert.match(v.out, /there is no \/etc\/venus: vbat installs on Venus OS \(a GX device\) only/);
});

test('at boot without Node.js (image changed) the installation keeps its service, which waits for Node.js', async () => {
  const root = newRoot();
  assert.equal((await install(root)).code, 0);
  unlinkSync(join(root, 'usr/bin/node'));
  rmSync(join(root, 'service'), { recursive: true });
  const boot = await sh(join(root, INSTALL, 'install.sh'), [], { VBAT_ROOT: root });
  assert.equal(boot.code, 0, boot.out);
  assert.match(boot.out, /WARNING: vbat needs Node\.js 18 or newer/);
  assert.equal(readlinkSync(join(root, 'service/vbat')), '/data/apps/available/vbat/service');
});

test('an installation in the old place, /data/etc/vbat, is moved with its config; its rc.local line and link are replaced', async () => {
  const root = newRoot();
  mkdirSync(join(root, 'data/etc'), { recursive: true });
  unpackInto(rel.tarball, join(root, 'data/etc'));
  writeFileSync(join(root, 'data/etc/vbat/config.yaml'), '# mine\n');
  writeFileSync(join(root, 'data/rc.local'), '#!/bin/sh\nsh /data/etc/vbat/install.sh\nexit 0\n', { mode: 0o755 });
  mkdirSync(join(root, 'service'));
  symlinkSync('/data/etc/vbat/service', join(root, 'service/vbat'));
  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /moved the installation from \/data\/etc\/vbat to \/data\/apps\/available\/vbat/);
  assert.ok(!existsSync(join(root, 'data/etc/vbat')));
  assert.equal(read(root, `${INSTALL}/config.yaml`), '# mine\n');
  assert.equal(read(root, 'data/rc.local'), `#!/bin/sh\n${RC_LINE}\nexit 0\n`);
  assert.equal(readlinkSync(join(root, 'service/vbat')), '/data/apps/available/vbat/service');
});

test('the log goes through /var/log/vbat everywhere: log/run, the scripts and their messages; never /data/log', async () => {
  const logRun = read(src, 'service/log/run');
  assert.match(logRun, /^mkdir -p \/var\/log\/vbat\nexec multilog t s25000 n4 \/var\/log\/vbat$/m);
  for (const f of ['install.sh', 'uninstall.sh', 'restart.sh', 'service/run', 'service/log/run', 'README.md']) {
    assert.doesNotMatch(read(src, f), /\/data\/log\/vbat/, `${f} names /data/log/vbat`);
  }
  const root = newRoot();
  const r = await install(root);
  assert.match(r.out, /log: tail -F \/var\/log\/vbat\/current \| tai64nlocal/);
});

/** mr-manuel's dbus-mqtt-battery as its download.sh leaves it: files, config.ini, /service link, rc.local line. */
function installSeed(root: string, ini: string): void {
  const seed = join(root, 'data/etc/dbus-mqtt-battery');
  mkdirSync(join(seed, 'service/log'), { recursive: true });
  writeFileSync(join(seed, 'service/run'), '#!/bin/sh\nexec python /data/etc/dbus-mqtt-battery/dbus-mqtt-battery.py\n', { mode: 0o755 });
  writeFileSync(join(seed, 'dbus-mqtt-battery.py'), '# the Python driver\n');
  writeFileSync(join(seed, 'config.ini'), ini);
  mkdirSync(join(root, 'service'), { recursive: true });
  symlinkSync('/data/etc/dbus-mqtt-battery/service', join(root, 'service/dbus-mqtt-battery'));
  writeFileSync(join(root, 'data/rc.local'), '#!/bin/bash\n\nbash /data/etc/dbus-mqtt-battery/install.sh\n', { mode: 0o755 });
}
const SEED_INI = readFileSync(fixture('seed', 'config.sample.ini'), 'utf8').replace('IP_ADDR_OR_FQDN', '192.168.1.5');

test('the Python driver installed and running: found, how to disable it said, its config not imported while it runs', async () => {
  const root = newRoot();
  installSeed(root, SEED_INI);
  const seedBefore = listing(join(root, 'data/etc/dbus-mqtt-battery'));
  const r = await install(root);
  assert.equal(r.code, 0, r.out);
  assert.match(
    r.out,
    /FOUND the Python driver dbus-mqtt-battery in \/data\/etc\/dbus-mqtt-battery: \/service\/dbus-mqtt-battery is linked \(it runs now\); \/data\/rc\.local starts it at boot\./,
  );
  assert.match(r.out, /Two drivers for one battery fight over DVCC's charge limits: disable it/);
  assert.match(r.out, /bash \/data\/etc\/dbus-mqtt-battery\/uninstall\.sh/);
  assert.match(r.out, /once it is disabled, import its settings: \/data\/apps\/available\/vbat\/install\.sh --import-seed/);
  assert.equal(read(root, `${INSTALL}/config.yaml`), read(src, 'config.sample.yaml'), 'vbat waits: config.yaml is still the sample');
  assert.deepEqual(listing(join(root, 'data/etc/dbus-mqtt-battery')), seedBefore, "the seed's files are left alone");
  assert.equal(read(root, 'data/rc.local'), `#!/bin/bash\n\nbash /data/etc/dbus-mqtt-battery/install.sh\n${RC_LINE}\n`);
  assert.ok(isLink(join(root, 'service/dbus-mqtt-battery')));

  // Asked to import on the first install while it still runs: installed, nothing imported, exit 1.
  const fresh = newRoot();
  installSeed(fresh, SEED_INI);
  const refused = await sh(join(src, 'install.sh'), ['--root', fresh, '--import-seed']);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /--import-seed: nothing imported/);
  assert.equal(read(fresh, `${INSTALL}/config.yaml`), read(src, 'config.sample.yaml'));
  assert.equal(readlinkSync(join(fresh, 'service/vbat')), '/data/apps/available/vbat/service', 'the installation is complete');
  assert.ok(read(fresh, 'data/rc.local').split('\n').includes(RC_LINE), 'the boot hook is in rc.local');
});

test('the Python driver disabled (its uninstall.sh, files kept): install.sh --import-seed writes config.yaml from its config.ini', async () => {
  const root = newRoot();
  installSeed(root, SEED_INI);
  // What its uninstall.sh does, answering N to deleting the files.
  unlinkSync(join(root, 'service/dbus-mqtt-battery'));
  writeFileSync(join(root, 'data/rc.local'), '#!/bin/bash\n\n');
  const offered = await install(root);
  assert.equal(offered.code, 0, offered.out);
  assert.match(offered.out, /found the files of the Python driver dbus-mqtt-battery in \/data\/etc\/dbus-mqtt-battery \(not started/);
  assert.match(offered.out, /import its settings: \/data\/apps\/available\/vbat\/install\.sh --import-seed/);

  const r = await sh(join(root, INSTALL, 'install.sh'), ['--root', root, '--import-seed']);
  assert.equal(r.code, 0, r.out);
  assert.match(
    r.out,
    /importing \/data\/etc\/dbus-mqtt-battery\/config\.ini:\n {4}imported .*: broker mqtt:\/\/192\.168\.1\.5:1883, topic enphase\/battery/,
  );
  const config = loadConfig(join(root, INSTALL, 'config.yaml'));
  assert.equal(config.mqtt.url, 'mqtt://192.168.1.5:1883');
  assert.deepEqual(
    config.batteries.map((b) => [b.name, b.sources[0]!.topic, b.instance, b.customName]),
    [['mqtt-battery', 'enphase/battery', 100, 'MQTT Battery']],
  );
  assert.equal(mode(root, `${INSTALL}/config.yaml`), 0o600);

  // From now on config.yaml is the owner's: never imported over.
  const again = await install(root);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /your config\.yaml is your own: not importing its config\.ini/);
  assert.equal(loadConfig(join(root, INSTALL, 'config.yaml')).mqtt.url, 'mqtt://192.168.1.5:1883');
});

test("in a terminal install.sh asks whether to import the disabled driver's config.ini: y imports, n leaves the sample", async () => {
  for (const [answer, imported] of [
    ['y', true],
    ['n', false],
  ] as const) {
    const root = newRoot();
    installSeed(root, SEED_INI);
    unlinkSync(join(root, 'service/dbus-mqtt-battery'));
    writeFileSync(join(root, 'data/rc.local'), '#!/bin/bash\n\n');
    // script(1) gives install.sh a terminal, as an SSH session does; the answer is typed into it.
    const r = await runCommand(
      'sh',
      ['-c', `printf '${answer}\\n' | script -qec "sh ${join(src, 'install.sh')} --root ${root}" /dev/null`],
      {
        cwd: rel.tmp,
        env: cleanEnv(),
      },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /import its \/data\/etc\/dbus-mqtt-battery\/config\.ini into \/data\/apps\/available\/vbat\/config\.yaml now\? \[Y\/n\]/,
    );
    const config = read(root, `${INSTALL}/config.yaml`);
    if (imported) assert.equal(loadConfig(join(root, INSTALL, 'config.yaml')).mqtt.url, 'mqtt://192.168.1.5:1883');
    else assert.equal(config, read(src, 'config.sample.yaml'));
  }
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
  // Its own process group: the script and its sleep, stopped together.
  const run = Proc.spawn('service/run', './run', [], { cwd: join(root, INSTALL, 'service'), env: cleanEnv(), group: true });
  try {
    await run.waitLog(/waiting for/, 5000).catch(() => undefined); // the assertion below says what is missing
    assert.match(run.log, new RegExp(`vbat: waiting for ${join(root, INSTALL)}/config\\.yaml to be edited \\(it is still the sample\\)`));
    assert.equal(run.exitCode, null, 'still waiting');
  } finally {
    await run.stop();
  }
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
