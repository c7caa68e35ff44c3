/**
 * Write-back: a SetValue on a path whose mapping declares a `command` becomes one MQTT message to
 * the BMS. This part owns the policy and nothing else; the channel (MQTT), the clock and what the
 * BMS last reported are handed in, so it is tested with fakes and fake time.
 *
 * - Only a valid value is sent: it already fits the path's D-Bus type (the service checks that),
 *   it is not "invalid", it is within the path's min/max, and the payload expression gives a value.
 * - Nothing is sent while the battery is stale or the broker is disconnected: a command to a BMS
 *   vbat cannot see is a command nobody can confirm.
 * - One command per path per `minInterval`: a GUI slider or a looping flow cannot flood the BMS.
 * - Each command is logged once at info with the path, value, topic, payload and the D-Bus sender.
 * - Afterwards the path shows the written value until the BMS reports it (its state, as the
 *   mapping reads it, equals the written value). If it does not within `confirm` seconds, the
 *   path returns to the last state the BMS reported and a warning says so. A path with no state
 *   to read (a command-only path) shows what was written until the battery goes stale.
 *
 * What DVCC reads is never touched here: limits computed from a switch state (CCL 0 when charging
 * is off) follow the state the BMS reports, not the value someone wrote.
 */
import type { Logger } from '../log.js';
import { commandPayload, commandSeconds, commandValueProblem, type CompiledMapping, type CompiledPath } from '../mapping/index.js';
import type { Frame, ItemState, PathValue } from '../venus/types.js';

/** Where commands go (the battery's MQTT connection). */
export interface CommandChannel {
  /** Whether the broker connection is up right now. */
  readonly isConnected: boolean;
  /**
   * Resolves once the broker has the message (PUBACK for QoS 1). Rejects when it cannot, or not
   * within `withinMs`; a rejected message is never sent later.
   */
  publish(topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: boolean; withinMs?: number }): Promise<void>;
}

export interface WriteBackOptions {
  mapping: CompiledMapping;
  log: Logger;
  now: () => number;
  variables: Record<string, unknown>;
  /** The channel, when there is one (none before start and after stop). */
  channel: () => CommandChannel | undefined;
  /** Why no command may go out now (the battery is stale), or undefined. */
  refusal: () => string | undefined;
  /** The current input document, for payload expressions. */
  document: () => unknown;
  /** What the BMS last reported for a path (the mapping's last accepted value and text). */
  reported: (path: string) => ItemState;
  /** Upper bound for the broker to take a command, in ms. */
  publishTimeoutMs?: number;
}

interface Pending {
  value: Exclude<PathValue, null>;
  sentAt: number;
  confirmMs: number;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 3000;

export class WriteBack {
  private readonly pending = new Map<string, Pending>();
  /** Command-only paths: the value written last, shown until the battery goes stale. */
  private readonly written = new Map<string, Exclude<PathValue, null>>();
  private readonly lastSent = new Map<string, number>();

  constructor(private readonly opts: WriteBackOptions) {}

  /** Paths that publish a command, in mapping order (`vbat check`, the start-up log). */
  static commandPaths(mapping: CompiledMapping): CompiledPath[] {
    return mapping.paths.filter((p) => p.command);
  }

  /** Whether `path` has a command (other writable paths are stored on D-Bus only, as before). */
  handles(path: string): boolean {
    return this.opts.mapping.byPath.get(path)?.command !== undefined;
  }

  /**
   * A SetValue of `value` (already of the path's D-Bus type) from D-Bus client `sender`. Resolves
   * true once the command is with the broker, false when it is refused (nothing is published).
   */
  async set(path: string, value: PathValue, sender: string): Promise<boolean> {
    const p = this.opts.mapping.byPath.get(path);
    const command = p?.command;
    if (!p || !command) return true;
    const refuse = (why: string) => {
      // Limited per path and kind of reason: a flood of one refusal must not hide another.
      this.opts.log.warnLimited(
        `setvalue:${path}:${why.replace(/-?[\d.]+/g, '#')}`,
        `SetValue ${path} = ${JSON.stringify(value)} from ${sender || 'unknown sender'} refused: ${why}`,
      );
      return false;
    };
    const invalid = commandValueProblem(p, value);
    if (invalid || value === null) return refuse(invalid!);
    const stale = this.opts.refusal();
    if (stale) return refuse(stale);
    const channel = this.opts.channel();
    if (!channel?.isConnected) return refuse('the MQTT broker is not connected');
    const now = this.opts.now();
    const last = this.lastSent.get(path);
    const minInterval = commandSeconds(command.minInterval, this.opts.variables, 2);
    if (last !== undefined && now - last < minInterval * 1000)
      return refuse(`rate limit: one command per ${minInterval} s on this path (last ${((now - last) / 1000).toFixed(1)} s ago)`);
    // Claimed before anything is awaited, so two calls at once cannot both pass the rate limit.
    this.lastSent.set(path, now);
    const release = () => (last === undefined ? this.lastSent.delete(path) : this.lastSent.set(path, last));

    const built = await commandPayload(command, value, this.opts.document(), this.opts.variables, (q) => {
      const v = this.opts.reported(q).value;
      return v === null ? undefined : v;
    });
    if ('problem' in built) {
      release();
      return refuse(built.problem);
    }
    if (!channel.isConnected || this.opts.refusal()) {
      release();
      return refuse(this.opts.refusal() ?? 'the MQTT broker is not connected');
    }
    this.opts.log.info(
      `command: ${path} = ${JSON.stringify(value)} from D-Bus ${sender || 'unknown sender'} → ${command.topic} ${JSON.stringify(built.payload)} (QoS ${command.qos}${command.retain ? ', retained' : ''})`,
    );
    // Registered before the publish: a state message arriving meanwhile must not overwrite the
    // written value on D-Bus before the command is even out.
    const previous = this.pending.get(path);
    const confirmMs = commandSeconds(command.confirm, this.opts.variables, 10) * 1000;
    if (command.confirmable) this.pending.set(path, { value, sentAt: now, confirmMs });
    const withinMs = this.opts.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    try {
      await withTimeout(channel.publish(command.topic, built.payload, { qos: command.qos, retain: command.retain, withinMs }), withinMs);
    } catch (err) {
      if (previous) this.pending.set(path, previous);
      else this.pending.delete(path);
      this.opts.log.warn(`command ${path} = ${JSON.stringify(value)} to ${command.topic} failed: ${(err as Error).message}`);
      return false;
    }
    if (!command.confirmable) this.written.set(path, value);
    return true;
  }

  /**
   * Before a frame from the mapping is published: a path waiting for confirmation keeps showing
   * the written value, unless the BMS now reports exactly that (confirmed). A command-only path
   * keeps what was written.
   */
  hold(frame: Frame): void {
    for (const [path, p] of this.pending) {
      if (this.opts.reported(path).value === p.value) {
        this.pending.delete(path);
        this.opts.log.info(`command confirmed: the BMS reports ${path} = ${JSON.stringify(p.value)}`);
      } else frame.delete(path);
    }
    for (const path of this.written.keys()) frame.delete(path);
  }

  /** Once a second: commands the BMS did not confirm in time; returns the paths to set back. */
  expire(): Frame {
    const now = this.opts.now();
    const back: Frame = new Map();
    for (const [path, p] of this.pending) {
      if (now - p.sentAt < p.confirmMs) continue;
      this.pending.delete(path);
      const state = this.opts.reported(path);
      back.set(path, state);
      this.opts.log.warn(
        `command not confirmed: the BMS did not report ${path} = ${JSON.stringify(p.value)} within ${p.confirmMs / 1000} s; ${path} shows its last reported state (${state.text}) again`,
      );
    }
    return back;
  }

  /** The battery went stale: nothing is waiting any more, and written values go with the data. */
  reset(): void {
    this.pending.clear();
    this.written.clear();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the broker did not take it within ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
