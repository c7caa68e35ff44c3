/**
 * A minimal D-Bus wire marshaller (little-endian), just enough for the fixed Victron signatures.
 *
 * Why: dbus-next's generic marshaller spends ~12 µs per dictionary entry (it builds a tree of
 * small buffers and re-parses signatures for every variant), so a 70-path ItemsChanged costs
 * about a millisecond of CPU. Writing straight into one growing Buffer is ~50× cheaper. Tests
 * prove the output byte-identical to dbus-next's for every message this module sends.
 *
 * Alignment is relative to the writer's origin, so callers keep the origin on an 8-byte
 * boundary of the message (the message start, or the start of an 8-aligned dict entry).
 */

/** D-Bus message types (spec "Message Types"). */
export const MsgType = {
  MethodCall: 1,
  MethodReturn: 2,
  Error: 3,
  Signal: 4,
} as const;
export type MsgType = (typeof MsgType)[keyof typeof MsgType];

/** Header flag: the caller does not want a reply. */
export const NO_REPLY_EXPECTED = 0x1;

export class WireWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 4096) {
    this.buf = Buffer.alloc(initialSize);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Make room for n more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Pad with zero bytes to a multiple of n (the spec requires the padding to be zero). */
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    if (pad === 0) return;
    this.ensure(pad);
    this.buf.fill(0, this.pos, this.pos + pad);
    this.pos += pad;
  }

  byte(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  int16(v: number): void {
    this.align(2);
    this.ensure(2);
    this.pos = this.buf.writeInt16LE(v, this.pos);
  }

  uint16(v: number): void {
    this.align(2);
    this.ensure(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }

  int32(v: number): void {
    this.align(4);
    this.ensure(4);
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }

  uint32(v: number): void {
    this.align(4);
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }

  int64(v: number): void {
    this.align(8);
    this.ensure(8);
    this.pos = this.buf.writeBigInt64LE(BigInt(v), this.pos);
  }

  uint64(v: number): void {
    this.align(8);
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64LE(BigInt(v), this.pos);
  }

  double(v: number): void {
    this.align(8);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  /** STRING / OBJECT_PATH: uint32 byte length, UTF-8 bytes, NUL. */
  string(s: string): void {
    this.align(4);
    // UTF-8 needs at most 3 bytes per UTF-16 unit; write first, then fill in the length,
    // which saves a separate Buffer.byteLength pass.
    this.ensure(4 + s.length * 3 + 1);
    const n = s.length <= 64 ? this.shortString(s, this.pos + 4) : this.buf.write(s, this.pos + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.pos);
    this.pos += 4 + n;
    this.buf[this.pos++] = 0;
  }

  /**
   * Paths, keys and texts are short and nearly always ASCII; copying char codes beats the
   * per-call overhead of Buffer#write (measured ~2× on 70-entry signals). Non-ASCII falls back.
   */
  private shortString(s: string, at: number): number {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return buf.write(s, at, 'utf8');
      buf[at + i] = c;
    }
    return s.length;
  }

  /** SIGNATURE: byte length, ASCII, NUL. */
  signature(s: string): void {
    this.ensure(s.length + 2);
    const buf = this.buf;
    buf[this.pos++] = s.length;
    for (let i = 0; i < s.length; i++) buf[this.pos++] = s.charCodeAt(i);
    buf[this.pos++] = 0;
  }

  /** Copy pre-encoded bytes (which must have been encoded at the same alignment). */
  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /**
   * Start an array: length placeholder, then padding to the element alignment (the padding is
   * not part of the array length). Returns the marker for endArray.
   */
  beginArray(elementAlign: number): number {
    this.uint32(0);
    const lengthPos = this.pos - 4;
    this.align(elementAlign);
    return lengthPos;
  }

  endArray(lengthPos: number, elementAlign: number): void {
    const start = lengthPos + 4 + ((elementAlign - ((lengthPos + 4) % elementAlign)) % elementAlign);
    this.buf.writeUInt32LE(this.pos - start, lengthPos);
  }

  /** A copy of the bytes written so far (the writer's buffer is reused). */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** Header fields we may send; names and codes as in the D-Bus spec. */
export interface MessageHeader {
  type: MsgType;
  serial: number;
  flags?: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  /** Body signature; omit or '' for an empty body. */
  signature?: string;
}

/**
 * Encode a complete message: fixed header, header-field array, padding, body. Fields go out in
 * field-code order and only when set, exactly as dbus-next does, so the bytes match its output.
 */
export function encodeMessage(w: WireWriter, h: MessageHeader, writeBody?: (w: WireWriter) => void): Buffer {
  w.reset();
  w.ensure(16);
  w.byte(0x6c); // 'l': little-endian
  w.byte(h.type);
  w.byte(h.flags ?? 0);
  w.byte(1); // protocol version
  w.uint32(0); // body length, patched below
  w.uint32(h.serial);

  const fields = w.beginArray(8);
  if (h.path) stringField(w, 1, 'o', h.path);
  if (h.interface) stringField(w, 2, 's', h.interface);
  if (h.member) stringField(w, 3, 's', h.member);
  if (h.errorName) stringField(w, 4, 's', h.errorName);
  if (h.replySerial) {
    w.align(8);
    w.byte(5);
    w.signature('u');
    w.uint32(h.replySerial);
  }
  if (h.destination) stringField(w, 6, 's', h.destination);
  if (h.signature) {
    w.align(8);
    w.byte(8);
    w.signature('g');
    w.signature(h.signature);
  }
  w.endArray(fields, 8);
  w.align(8);

  if (h.signature && writeBody) {
    const bodyStart = w.pos;
    writeBody(w);
    w.buf.writeUInt32LE(w.pos - bodyStart, 4);
  }
  return w.take();
}

function stringField(w: WireWriter, code: number, sig: 'o' | 's', value: string): void {
  w.align(8);
  w.byte(code);
  w.signature(sig);
  w.string(value);
}
