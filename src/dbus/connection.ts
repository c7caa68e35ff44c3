/**
 * One private bus connection per service (contract §2.2.5: consumers key services by the unique
 * name, and every service needs its own '/'). dbus-next does the socket, authentication, Hello
 * and the parsing of incoming messages; we send our pre-encoded messages straight to its socket.
 *
 * All reliance on dbus-next internals lives here: `bus._connection.stream` (the socket it
 * writes to). dbus-next is unmaintained and pinned, and start-up checks the internals exist, so
 * a different dbus-next fails loudly instead of misbehaving.
 */
import { Message, sessionBus, type MessageBus } from 'dbus-next';

/** Where the system bus lives when neither the option nor DBUS_SYSTEM_BUS_ADDRESS says. */
export const DEFAULT_SYSTEM_BUS_ADDRESS = 'unix:path=/var/run/dbus/system_bus_socket';

/** Option, else DBUS_SYSTEM_BUS_ADDRESS, else the standard system bus socket. */
export function resolveBusAddress(explicit?: string): string {
  return explicit || process.env['DBUS_SYSTEM_BUS_ADDRESS'] || DEFAULT_SYSTEM_BUS_ADDRESS;
}

/** The part of the socket we use. */
interface RawStream {
  readonly writable: boolean;
  readonly destroyed: boolean;
  write(data: Buffer): boolean;
  /** net.Socket's: writes in between go out together (one writev) on uncork. */
  cork?(): void;
  uncork?(): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

export interface BusConnection {
  readonly bus: MessageBus;
  readonly uniqueName: string;
  /** A serial from dbus-next's counter, so our messages and its own never share one. */
  nextSerial(): number;
  /** Send an encoded message; false when the connection is gone. */
  write(data: Buffer): boolean;
  /**
   * Run `send`; the messages it writes leave in one socket write, in order (an ItemsChanged and
   * its PropertiesChanged signals: one system call and one wake-up of dbus-daemon, not one each).
   */
  together(send: () => void): void;
  /** A method call to someone else (the bus daemon), bounded by the connection's timeout. */
  call(msg: Message): Promise<Message>;
  /** Register the callback for an unexpected loss of the connection (called at most once). */
  onLost(listener: (error: Error) => void): void;
  /** Disconnect and wait (bounded) until the socket is closed. Idempotent. */
  close(): Promise<void>;
}

/** Connect and complete Hello, or fail within timeoutMs. */
export async function connectBus(address: string, timeoutMs: number): Promise<BusConnection> {
  let bus: MessageBus;
  try {
    bus = sessionBus({ busAddress: address });
  } catch (e) {
    throw new Error(`cannot connect to D-Bus at ${address}: ${(e as Error).message}`, { cause: e });
  }
  const stream = (bus as unknown as { _connection?: { stream?: RawStream } })._connection?.stream;
  if (!stream || typeof stream.write !== 'function') {
    throw new Error('unsupported dbus-next version: MessageBus._connection.stream not found');
  }

  let lostListener: ((error: Error) => void) | undefined;
  let closing = false;
  let lost = false;
  const reportLost = (error: Error): void => {
    if (closing || lost) return;
    lost = true;
    lostListener?.(error);
  };
  // An EventEmitter 'error' without a listener would throw, so one listener stays for good.
  bus.on('error', (err: unknown) => reportLost(err instanceof Error ? err : new Error(String(err))));

  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        bus.once('connect', () => resolve());
        bus.once('error', (err: unknown) => reject(err));
      }),
      timeoutMs,
      'connecting',
    );
  } catch (e) {
    closing = true;
    stream.destroy();
    throw new Error(`cannot connect to D-Bus at ${address}: ${(e as Error).message ?? e}`, { cause: e });
  }
  stream.once('close', () => reportLost(new Error(`D-Bus connection to ${address} closed`)));

  const uniqueName = (bus as unknown as { name: string }).name;
  return {
    bus,
    uniqueName,
    nextSerial: () => bus.newSerial(),
    write(data) {
      if (closing || lost || !stream.writable) return false;
      stream.write(data);
      return true;
    },
    together(send) {
      if (!stream.cork || !stream.uncork) return send();
      stream.cork();
      try {
        send();
      } finally {
        stream.uncork();
      }
    },
    call: (msg) =>
      withTimeout(
        bus.call(msg).then((reply) => reply as Message),
        timeoutMs,
        `${msg.interface}.${msg.member}`,
      ),
    onLost(listener) {
      lostListener = listener;
    },
    async close() {
      if (closing) return;
      closing = true;
      if (stream.destroyed) return;
      const closed = new Promise<void>((resolve) => stream.once('close', resolve));
      bus.disconnect(); // ends the socket; the daemon then drops our names
      await withTimeout(closed, timeoutMs, 'disconnecting').catch(() => stream.destroy());
    },
  };
}

/** Reject with "<what> timed out after N ms" unless p settles first. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** A call to the bus daemon itself (org.freedesktop.DBus). */
export function busDaemonCall(member: string, signature = '', body: unknown[] = []): Message {
  return new Message({
    destination: 'org.freedesktop.DBus',
    path: '/org/freedesktop/DBus',
    interface: 'org.freedesktop.DBus',
    member,
    signature,
    body,
  });
}
