/**
 * A private mosquitto broker for tests: 127.0.0.1 on a free port, no persistence, anonymous.
 * It can be stopped and started again on the same port (broker restart tests). Every wait is
 * bounded and the broker (a Proc) is SIGKILLed when the test process exits.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc } from './process.js';

export interface Broker {
  readonly url: string;
  readonly port: number;
  /** Stop the broker process (the port stays ours to restart on). */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a broker that hangs, its connections open but nothing answered. */
  pause(): void;
  resume(): void;
  /** Stop and clean up. Idempotent. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface MosquittoOptions {
  /** Lines added to the listener (TLS: cafile, certfile, keyfile, require_certificate). */
  listener?: string[];
  /** The URL scheme clients use (mqtts for a TLS listener). */
  scheme?: 'mqtt' | 'mqtts';
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Broker> {
  const dir = await mkdtemp(join(tmpdir(), 'vbat-mqtt-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      ...(opts.listener ?? []),
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  let proc: Proc | undefined;
  const launch = async () => {
    const p = Proc.spawn('mosquitto', 'mosquitto', ['-c', conf], { graceMs: 2000 });
    proc = p;
    try {
      await waitForPort(port, 5000, () => (p.running ? undefined : `mosquitto exited (${p.exitCode}): ${p.err}`));
    } catch (e) {
      await p.stop();
      throw e;
    }
  };
  const kill = async () => {
    const p = proc;
    proc = undefined;
    const stopped = p?.stop(); // SIGTERM goes out at once
    p?.signal('SIGCONT'); // a paused broker takes the signal only once it runs
    await stopped;
  };
  await launch();
  let stopping: Promise<void> | undefined;
  return {
    url: `${opts.scheme ?? 'mqtt'}://127.0.0.1:${port}`,
    port,
    kill,
    restart: launch,
    pause: () => proc?.signal('SIGSTOP'),
    resume: () => proc?.signal('SIGCONT'),
    stop() {
      stopping ??= (async () => {
        await kill();
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, timeoutMs: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const why = failed();
    if (why) throw new Error(why);
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
