/**
 * A local file handle for the GMOD readers that refuses reads a damaged index or header asks for:
 * a negative, fractional or non-finite offset or length would reach Node's fs binding, which aborts
 * the whole process on them (a native assertion, not an exception), and a huge length would be
 * allocated before reading. Readers may ask for a little more than the file holds (a fixed-size
 * header read of a small file); a read reaching more than `SLACK` bytes past the end means a header or
 * index lies about the file, and is refused before any allocation or parsing loop sized by that lie.
 */
import { stat } from 'node:fs/promises';
import { LocalFile } from 'generic-filehandle2';

export class FileRangeError extends Error {}

const SLACK = 1 << 20;

export class BoundedLocalFile extends LocalFile {
  private size: Promise<number> | undefined;

  constructor(private readonly path: string) {
    super(path);
  }

  override async read(length: number, position = 0): Promise<Uint8Array<ArrayBuffer>> {
    if (!Number.isSafeInteger(length) || length < 0 || !Number.isSafeInteger(position) || position < 0) {
      throw new FileRangeError(`${this.path}: a read of ${length} bytes at offset ${position} is impossible (damaged header or index?)`);
    }
    this.size ??= stat(this.path).then((s) => s.size);
    const size = await this.size;
    if (position + length > size + SLACK) {
      throw new FileRangeError(`${this.path}: a read of ${length} bytes at offset ${position} runs past the end of the ${size}-byte file (damaged header or index?)`);
    }
    const n = Math.min(length, Math.max(0, size - position));
    return n === 0 ? new Uint8Array(0) : super.read(n, position);
  }
}
