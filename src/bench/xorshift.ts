/** xorshift32 (13, 17, 5): the benches' cheap deterministic generator; each call returns the next state, a uint32. */
export function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** `length` random A/C/G/T (uniform, from xorshift32(seed)): the benches' synthetic chromosomes. */
export function randomChromosome(length: number, seed: number): string {
  const next = xorshift32(seed);
  const out = Buffer.alloc(length);
  const letters = Buffer.from('ACGT');
  for (let i = 0; i < length; i++) out[i] = letters[next() & 3]!;
  return out.toString('latin1');
}
