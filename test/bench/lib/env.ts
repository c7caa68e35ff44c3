/** What the figures were measured with: the machine and the versions of everything involved. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { arch, cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../support/paths.js';

function firstLine(cmd: string, args: string[]): string {
  try {
    const r = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    return r.split('\n')[0]!.trim();
  } catch (err) {
    // mosquitto -h exits 3 but prints its version
    const out = `${(err as { stdout?: string }).stdout ?? ''}`.split('\n')[0]!.trim();
    return out || 'unknown';
  }
}

function pkgVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function versions(): Record<string, string> {
  return {
    node: process.version,
    mosquitto: firstLine('mosquitto', ['-h']).replace(/^mosquitto version /, ''),
    dbusDaemon: firstLine('dbus-daemon', ['--version']).replace(/^D-Bus Message Bus Daemon /, ''),
    vbat: (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version,
    'dbus-next': pkgVersion('dbus-next'),
    mqtt: pkgVersion('mqtt'),
    jsonata: pkgVersion('jsonata'),
  };
}

export function machine(): Record<string, unknown> {
  const c = cpus();
  return {
    hostname: hostname(),
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    os: osName(),
    kernel: release(),
    arch: arch(),
    loadAverageAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}
