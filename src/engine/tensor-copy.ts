/** Tensors crossing from a worker's ONNX Runtime (Node or web) to the calling thread. */
import type { TensorData } from './protocol.js';

/** The fields of an ORT tensor that both runtimes' Tensor classes have. */
interface OrtTensorLike {
  type: string;
  dims: readonly number[];
  data: unknown;
}

/** An output copied out of the runtime's memory into a fresh buffer, which the worker can transfer. */
export function transferable(t: OrtTensorLike): TensorData {
  const data = t.data as Float32Array | BigInt64Array;
  const copy = data instanceof Float32Array ? new Float32Array(data) : new BigInt64Array(data);
  return { dtype: t.type as TensorData['dtype'], dims: [...t.dims], data: copy };
}
