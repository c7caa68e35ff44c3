/**
 * Encodes and sends this service's messages (signals, replies, errors) with the wire encoder,
 * bypassing dbus-next's marshaller (see wire.ts for why). One reusable buffer per connection:
 * everything here is synchronous, so messages never interleave.
 */
import type { Message } from 'dbus-next';
import type { BusConnection } from './connection.js';
import { BUSITEM_INTERFACE } from './introspect.js';
import { encodeMessage, MsgType, NO_REPLY_EXPECTED, WireWriter } from './wire.js';

export type BodyWriter = (w: WireWriter) => void;

export class MessageSender {
  private readonly w = new WireWriter(16384);

  constructor(private readonly conn: BusConnection) {}

  /** A com.victronenergy.BusItem signal on `path`. */
  signal(path: string, member: string, signature: string, body: BodyWriter): boolean {
    const data = encodeMessage(
      this.w,
      { type: MsgType.Signal, serial: this.conn.nextSerial(), path, interface: BUSITEM_INTERFACE, member, signature },
      body,
    );
    return this.conn.write(data);
  }

  /** The METHOD_RETURN for `call`, unless the caller asked for no reply. */
  reply(call: Message, signature: string, body?: BodyWriter): void {
    if (call.flags & NO_REPLY_EXPECTED) return;
    const data = encodeMessage(
      this.w,
      {
        type: MsgType.MethodReturn,
        serial: this.conn.nextSerial(),
        replySerial: call.serial ?? 0,
        destination: call.sender,
        signature,
      },
      body,
    );
    this.conn.write(data);
  }

  /** An ERROR reply with a message text. */
  error(call: Message, errorName: string, text: string): void {
    if (call.flags & NO_REPLY_EXPECTED) return;
    const data = encodeMessage(
      this.w,
      {
        type: MsgType.Error,
        serial: this.conn.nextSerial(),
        errorName,
        replySerial: call.serial ?? 0,
        destination: call.sender,
        signature: 's',
      },
      (w) => w.string(text),
    );
    this.conn.write(data);
  }
}
