/**
 * A protocol-buffers wire-format reader for the few TensorFlow messages a checkpoint holds
 * (BundleHeaderProto, BundleEntryProto, TrackableObjectGraph). Every read is bounds-checked and
 * fails with a one-line `TfCheckpointError` naming what was being read, never a RangeError.
 */

export class TfCheckpointError extends Error {}

export class ProtoReader {
  pos = 0;

  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  fail(message: string): never {
    throw new TfCheckpointError(`${this.what}: ${message}`);
  }

  /** A varint as an unsigned 64-bit value. */
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, result);
      shift += 7n;
      if (shift > 63n) this.fail('varint longer than 10 bytes');
    }
  }

  /** A non-negative integer field (sizes, offsets, ids); `field` names it in errors. */
  uint(field: string): number {
    const v = BigInt.asIntN(64, this.varint());
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${field} out of range (${v})`);
    return Number(v);
  }

  /** A signed int64 field, which must fit a double exactly. */
  int(field: string): number {
    const v = BigInt.asIntN(64, this.varint());
    if (v < BigInt(Number.MIN_SAFE_INTEGER) || v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${field} out of range (${v})`);
    return Number(v);
  }

  bool(): boolean {
    return this.varint() !== 0n;
  }

  fixed32(): number {
    if (this.pos + 4 > this.buf.length) this.fail('truncated fixed32 field');
    const b = this.buf;
    const v = (b[this.pos]! | (b[this.pos + 1]! << 8) | (b[this.pos + 2]! << 16) | (b[this.pos + 3]! << 24)) >>> 0;
    this.pos += 4;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.uint('field length');
    if (n > this.buf.length - this.pos) this.fail('field runs past the end of the message');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return new TextDecoder().decode(this.bytes());
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (this.pos + n > this.buf.length) this.fail('field runs past the end of the message');
      this.pos += n;
    } else this.fail(`unsupported wire type ${wire}`);
  }

  /** (field number, wire type) pairs; the caller reads or skips each value. */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const key = this.uint('field key');
      yield [Math.floor(key / 8), key % 8];
    }
  }

  /** Reads a length-delimited field as a nested message (reading nothing if `wire` is not 2). */
  message(wire: number, what: string): ProtoReader {
    if (wire !== 2) this.fail(`${what} is not a length-delimited field (wire type ${wire})`);
    return new ProtoReader(this.bytes(), `${this.what}: ${what}`);
  }
}
