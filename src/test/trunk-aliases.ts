/**
 * The enformer-small fixture as real files hold it when only enformer-pytorch's trunk aliases survive:
 * `_trunk.{1,2,4,6}.*` + `_heads.*`, what the safetensors library's `save_model` keeps of the port's
 * state dict (see TRUNK_ALIASES in models/enformer.ts), as safetensors or re-saved as a torch.save zip.
 * The tensors are the fixture's canonical ones renamed at test time, so a reader that maps the
 * aliases back must reproduce the fixture bit for bit.
 */
import { writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fixturePath } from './fixtures.js';
import { makeZip, P, tensorPickle } from './weights-helpers.js';

/**
 * Module -> its index in the port's `_trunk` Sequential(Rearrange, stem, conv_tower, Rearrange,
 * transformer, crop, final_pointwise) (lucidrains/enformer-pytorch@5a5974d), written out again here
 * rather than taken from the model code under test.
 */
const TRUNK_INDEX: Record<string, number> = { stem: 1, conv_tower: 2, transformer: 4, final_pointwise: 6 };

/** A canonical name's `_trunk` alias; names outside the trunk (the heads) are returned unchanged. */
export function trunkAlias(name: string): string {
  const dot = name.indexOf('.');
  const index = TRUNK_INDEX[name.slice(0, dot)];
  return index === undefined ? name : `_trunk.${index}.${name.slice(dot + 1)}`;
}

/** The fixture's tensors under their canonical names (its own `_trunk.*` copies left out). */
export async function canonicalFixtureTensors(): Promise<TensorToWrite[]> {
  const file = await SafetensorsFile.open(fixturePath('enformer-small', 'weights.safetensors'));
  return [...file.tensors.values()].filter((t) => !t.name.startsWith('_trunk.')).map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: file.readFloat32(t.name) }));
}

/** One BatchNorm step counter (int64 scalar) per batch norm, as the port's state dict carries them. */
function counters(tensors: TensorToWrite[]): TensorToWrite[] {
  return tensors
    .filter((t) => t.name.endsWith('.running_mean'))
    .map((t) => ({ name: t.name.replace(/running_mean$/, 'num_batches_tracked'), dtype: 'I64' as const, shape: [], data: BigInt64Array.of(0n) }));
}

export interface AliasModelOptions {
  format: 'safetensors' | 'bin';
  /** Changes applied to the renamed tensors before writing (e.g. a wrong shape). */
  edit?: (tensors: TensorToWrite[]) => TensorToWrite[];
}

/** A torch.save-style zip of a state dict (float32 and int64 tensors, one storage each, in order). */
export function torchStateDict(tensors: TensorToWrite[]): Buffer {
  const storage = (t: TensorToWrite) => (t.dtype === 'I64' ? 'LongStorage' : t.dtype === 'F64' ? 'DoubleStorage' : 'FloatStorage');
  const items = tensors.flatMap((t, i) => [P.str(t.name), tensorPickle(String(i), t.shape, storage(t)), P.setitem]);
  const pickle = Buffer.concat([P.proto, P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, ...items, P.stop]);
  return makeZip([
    { name: 'archive/data.pkl', data: pickle },
    ...tensors.map((t, i) => ({ name: `archive/data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

/**
 * Writes `dir/config.json` (the fixture's) and the weights with only alias names for the trunk:
 * `model.safetensors` or `pytorch_model.bin`. Returns the weights file's path.
 */
export async function writeAliasOnlyModel(dir: string, options: AliasModelOptions): Promise<string> {
  copyFileSync(fixturePath('enformer-small', 'config.json'), join(dir, 'config.json'));
  const canonical = await canonicalFixtureTensors();
  let tensors = [...canonical, ...counters(canonical)].map((t) => ({ ...t, name: trunkAlias(t.name) }));
  tensors = options.edit ? options.edit(tensors) : tensors;
  if (options.format === 'safetensors') {
    const path = join(dir, 'model.safetensors');
    // No metadata naming the dropped names (save_model adds it, other writers need not): the names alone must do.
    await writeSafetensors(path, tensors, { format: 'pt' });
    return path;
  }
  const path = join(dir, 'pytorch_model.bin');
  writeFileSync(path, torchStateDict(tensors));
  return path;
}
