/** Prediction output as safetensors: one float32 tensor per name, shape [records, bins, tracks]. */
import { writeSafetensors } from '../weights/safetensors.js';
import type { Tensor3D } from './tensor.js';

export async function writePredictionSafetensors(
  path: string,
  tensors: { name: string; tensor: Tensor3D }[],
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeSafetensors(
    path,
    tensors.map(({ name, tensor }) => ({ name, dtype: 'F32' as const, shape: [...tensor.shape], data: tensor.data })),
    metadata,
  );
}
