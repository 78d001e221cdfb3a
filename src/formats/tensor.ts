/** The shape formats accept: a row-major float32 tensor [records, bins, tracks]. Structural, so any model's output fits. */
export interface Tensor3D {
  data: Float32Array;
  shape: [number, number, number];
}
