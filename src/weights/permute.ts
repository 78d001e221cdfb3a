/** Axis permutation of a row-major float32 tensor (a copy; values are moved, never computed). */
export function permute(t: { shape: number[]; data: Float32Array }, perm: number[]): { shape: number[]; data: Float32Array } {
  const { shape, data } = t;
  const rank = shape.length;
  if (perm.length !== rank || [...perm].sort().some((p, i) => p !== i)) throw new Error(`permute: [${perm}] is not a permutation of rank ${rank}`);
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i]!;
  }
  // Stride in the input for each output axis.
  const strides = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src]!;
    for (let a = rank - 1; a >= 0; a--) {
      index[a]!++;
      src += strides[a]!;
      if (index[a]! < outShape[a]!) break;
      src -= strides[a]! * outShape[a]!;
      index[a] = 0;
    }
  }
  return { shape: outShape, data: out };
}
