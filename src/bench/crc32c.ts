/**
 * CRC-32C throughput: the project's slice-by-8 kernel (weights/crc32c.ts, which checks every tensor of
 * a TensorFlow checkpoint and every TFRecord frame) against @aws-crypto/crc32c on the same buffer:
 *   npm run bench -- crc32c [--mb 256] [--runs 3]
 * Prints MB/s of each (median of the runs) and their ratio; both must give the same checksum.
 */
import { crc32c as awsCrc32c } from '@aws-crypto/crc32c';
import { crc32c } from '../weights/crc32c.js';
import { xorshift32 } from './xorshift.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function benchCrc32c(options: { mb: number; runs: number }): void {
  const data = new Uint8Array(options.mb * 2 ** 20);
  const next = xorshift32(3);
  const words = new Uint32Array(data.buffer);
  for (let i = 0; i < words.length; i++) words[i] = next();
  const time = (f: (d: Uint8Array) => number): { mbPerS: number; crc: number } => {
    const seconds: number[] = [];
    let crc = 0;
    for (let r = 0; r < options.runs; r++) {
      const a = performance.now();
      crc = f(data) >>> 0;
      seconds.push((performance.now() - a) / 1000);
    }
    return { mbPerS: options.mb / median(seconds), crc };
  };
  const ours = time(crc32c);
  const library = time(awsCrc32c);
  if (ours.crc !== library.crc) throw new Error(`crc32c disagrees with @aws-crypto/crc32c: ${ours.crc.toString(16)} vs ${library.crc.toString(16)}`);
  console.log(`crc32c over ${options.mb} MB, median of ${options.runs}: slice-by-8 ${ours.mbPerS.toFixed(0)} MB/s, @aws-crypto/crc32c ${library.mbPerS.toFixed(0)} MB/s`);
  console.log(`RESULT mode=crc32c mb=${options.mb} ours_mb_per_s=${ours.mbPerS.toFixed(0)} library_mb_per_s=${library.mbPerS.toFixed(0)} speedup=${(ours.mbPerS / library.mbPerS).toFixed(2)}`);
}
