/**
 * Where a battery's frames go: the D-Bus service. The battery only calls `apply(frame)`; this part
 * exports the service, and when the bus connection dies (dbus-daemon restarted) tells the battery
 * (which then starts stale) and exports it again every few seconds until the bus is back. After
 * close() nothing is exported again, whatever fails at the same moment: a GX device shutting down
 * must not keep vbat alive.
 */
import { startService, type BusItemService, type ItemDefinition, type Signalling } from '../dbus/index.js';
import type { Logger } from '../log.js';
import type { Frame, PathValue } from '../venus/types.js';

export interface BatterySink {
  /** Export the service; rejects when the name is taken or the bus cannot be reached. */
  open(): Promise<void>;
  /** Set paths; `signalling` says when clients are told (see Signalling). */
  apply(frame: Frame, signalling?: Signalling): void;
  close(): Promise<void>;
}

export interface SinkEvents {
  /** The items to export, in their current state (called for every export). */
  items(): Promise<ItemDefinition[]>;
  /** A remote SetValue from D-Bus client `sender`; false (or a Promise of false) refuses it. */
  onSetValue(path: string, value: PathValue, sender: string): boolean | Promise<boolean>;
  /** The bus went away: everything on it is gone, the battery starts stale. */
  onLost(): void;
  /** Exported again after a loss. */
  onRestored(): void;
}

export type SinkFactory = (events: SinkEvents) => BatterySink;

export interface DbusSinkOptions {
  serviceName: string;
  busAddress?: string;
  propertiesChanged: boolean;
  log: Logger;
  /** Pause between attempts to export again after the bus went away. */
  retryMs?: number;
}

export class DbusSink implements BatterySink {
  private service?: BusItemService;
  private retry?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly opts: DbusSinkOptions,
    private readonly events: SinkEvents,
  ) {}

  async open(): Promise<void> {
    let service: BusItemService | undefined = undefined;
    service = await startService({
      serviceName: this.opts.serviceName,
      busAddress: this.opts.busAddress,
      items: await this.events.items(),
      propertiesChanged: this.opts.propertiesChanged,
      onSetValue: (path, value, sender) => this.events.onSetValue(path, value, sender),
      onError: (err) => this.lost(service, err),
    });
    if (this.closed) {
      await service.close(); // close() came while we were exporting
      return;
    }
    this.service = service;
  }

  apply(frame: Frame, signalling: Signalling = 'changes'): void {
    if (frame.size || signalling === 'all') this.service?.apply(frame, signalling);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    const service = this.service;
    this.service = undefined;
    await service?.close();
  }

  private lost(service: BusItemService | undefined, err: Error): void {
    if (this.closed) return;
    const retryMs = this.opts.retryMs ?? 2000;
    this.opts.log.error(`D-Bus connection lost (${err.message}); exporting the service again every ${retryMs / 1000} s`);
    if (service === this.service) this.service = undefined;
    void service?.close();
    this.events.onLost();
    this.scheduleRetry(retryMs);
  }

  private scheduleRetry(retryMs: number): void {
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.open().then(
        () => {
          if (this.closed) return;
          this.opts.log.info(`exported ${this.opts.serviceName} again; waiting for data`);
          this.events.onRestored();
        },
        () => this.scheduleRetry(retryMs),
      );
    }, retryMs);
    this.retry.unref();
  }
}
