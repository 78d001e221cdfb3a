/**
 * `weights convert`: any supported checkpoint (PyTorch zip, Keras HDF5, safetensors with reference or
 * MultiMolecule names, the official Enformer's TensorFlow SavedModel or checkpoint) -> a canonical
 * model directory (`config.json` + float32 `model.safetensors` under the reference names, +
 * `tf_gammas.safetensors` where one comes along). The format is detected from the file's first bytes
 * (a TensorFlow checkpoint from its `.index` file), every tensor is checked against the architecture
 * the config builds, and the output is written into a staging folder, verified (bytes re-read and
 * compared, model loaded), and only then moved into place: a failure leaves nothing half-written.
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { openForReading } from '../../weights/weight-file.js';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { architectureFromConfig, loadModel, readConfig } from '../../models/load.js';
import { fromMultiMoleculeConfig, isMultiMoleculeConfig } from '../../models/multimolecule-config.js';
import { Borzoi } from '../../models/borzoi.js';
import { Enformer } from '../../models/enformer.js';
import type { Architecture } from '../../models/architecture.js';
import { SafetensorsFile, writeSafetensors } from '../../weights/safetensors.js';
import { WeightSet, checkWeights, type WeightEntry } from '../../weights/weight-set.js';
import { entryFloat32 } from '../../weights/weight-file.js';
import { torchCheckpointWeights } from '../../weights/torch-checkpoint.js';
import { isZip } from '../../weights/zip.js';
import { isHdf5, readKerasBorzoi } from '../../weights/keras-h5.js';
import { fixMultiMoleculeLayout, isMultiMoleculeNames, multimoleculeName, parseVocab } from '../../weights/multimolecule.js';
import { writeWeightSet } from '../../weights/write.js';
import { findTfBundle } from '../../weights/tf-bundle.js';
import { readEnformerCheckpoint, type EnformerCheckpoint } from '../../weights/enformer-tf.js';
import { enformerConfigFromWeights } from './enformer-tf-config.js';
import { EnformerNamingPicker, fixLegacyAttentionLogits } from '../../weights/enformer-legacy-names.js';

export class ConvertError extends Error {}

export type WeightsFormat = 'pytorch-zip' | 'keras-h5' | 'safetensors' | 'tf-checkpoint';

/** Detects a weights file's format from its first bytes (not its name). */
export async function detectFormat(path: string): Promise<WeightsFormat> {
  const handle = await openForReading(path, ConvertError);
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    const prefix = head.subarray(0, bytesRead);
    if (isZip(prefix)) return 'pytorch-zip';
    if (isHdf5(prefix)) return 'keras-h5';
    if (bytesRead >= 9) {
      const n = Number(prefix.readBigUInt64LE(0));
      const { size } = await handle.stat();
      if (n > 1 && n + 8 <= size && prefix[8] === 0x7b) return 'safetensors';
    }
    if (bytesRead >= 2 && prefix[0] === 0x80) {
      throw new ConvertError(`${path}: a bare pickle (legacy torch.save format) is not supported; re-save it with a current torch (zip format) or as safetensors`);
    }
    throw new ConvertError(`${path}: unknown weights format (not a PyTorch zip checkpoint, an HDF5 file or safetensors)`);
  } finally {
    await handle.close();
  }
}

export interface ReadOptions {
  /** MultiMolecule checkpoints: which species head `token_head` is (default: the config's `species`, else human). */
  species?: string;
  /** MultiMolecule tokenizer vocabulary (to re-index the stem conv's input channels). */
  vocab?: string[];
}

export interface ReadResult {
  format: WeightsFormat;
  weights: WeightSet;
  /** MultiMolecule Enformer checkpoints carry the TF gamma table. */
  gammaTable?: { shape: number[]; data: Float32Array };
  multimolecule?: boolean;
  /** Enformer weights in enformer-pytorch's layout from before version 0.5 (see weights/enformer-legacy-names.ts). */
  legacyEnformer?: boolean;
}

/** Reads a weights file of any supported format under the architecture's canonical names. */
export async function readWeights(path: string, arch: Architecture, options: ReadOptions = {}): Promise<ReadResult> {
  const format = await detectFormat(path);
  // Enformer files may be in enformer-pytorch's pre-0.5 layout, which only the whole set of names reveals.
  const picker = arch instanceof Enformer ? new EnformerNamingPicker((n) => arch.canonicalName(n), path) : undefined;
  const naming = picker ?? ((n: string) => arch.canonicalName(n));
  const finish = (weights: WeightSet): ReadResult => {
    if (picker?.legacy) fixLegacyAttentionLogits(weights, path, entryFloat32);
    return { format, weights, ...(picker?.legacy ? { legacyEnformer: true } : {}) };
  };
  if (format === 'pytorch-zip') return finish(torchCheckpointWeights(path, naming));
  if (format === 'keras-h5') {
    if (!(arch instanceof Borzoi)) throw new ConvertError(`${path}: Keras HDF5 weights are supported for Borzoi only (the config is ${arch.kind})`);
    return { format, weights: (await readKerasBorzoi(path, arch)).weights };
  }
  const file = await SafetensorsFile.open(path);
  if (!isMultiMoleculeNames(file.tensors.keys())) return finish(WeightSet.fromSafetensors(file, naming));
  const kind = arch instanceof Enformer ? 'enformer' : 'borzoi';
  const species = options.species ?? 'human';
  const set = WeightSet.fromSafetensors(file, (n) => multimoleculeName(n, kind, species));
  fixMultiMoleculeLayout(set, kind, species, path, options.vocab);
  // MultiMolecule stores the TF gamma table once per layer; we keep one, so the copies must agree.
  let gammaTable: ReadResult['gammaTable'];
  for (const name of [...file.tensors.keys()].filter((n) => n.endsWith('.attention.gamma_position_basis')).sort()) {
    const t = { shape: file.tensors.get(name)!.shape, data: file.readFloat32(name) };
    if (!gammaTable) gammaTable = t;
    else if (!sameShape(t.shape, gammaTable.shape) || !Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(gammaTable.data.buffer, gammaTable.data.byteOffset, gammaTable.data.byteLength))) {
      throw new ConvertError(`${path}: tensor ${name} differs from the other layers' gamma_position_basis (one table is used for every layer)`);
    }
  }
  return { format, weights: set, gammaTable, multimolecule: true };
}

export interface ConvertOptions {
  /** A model directory (config.json beside a weights file) or a weights file. */
  input: string;
  out: string;
  /** Config for a bare weights file (or to override a directory's config.json). */
  config?: string;
  /** Pick this weights file in a directory holding several. */
  weights?: string;
  /**
   * Borzoi: take the mouse head of this checkpoint (a weights file or a model directory, e.g. the official
   * `model1_best.h5`) and put it on the input's trunk. An explicit graft: the mouse head was trained with
   * its own file's trunk, which differs from the input's; the result records and reports the difference.
   */
  graftMouseHead?: string;
  species?: string;
  /** Keys set in the written config.json (e.g. use_tf_gamma for the official Enformer port). */
  configOverrides?: Record<string, unknown>;
  /** A TF gamma table (safetensors, tensor tf_gammas) to place in the output. */
  gammaTable?: string;
  /** Replace an existing model in `out`. */
  force?: boolean;
  /** Start the converted model as the final check (default true). */
  loadCheck?: boolean;
  log?: (line: string) => void;
}

export interface ConvertResult {
  out: string;
  format: WeightsFormat;
  kind: string;
  heads: string[];
  tensors: number;
  source: string;
  graft?: GraftReport;
}

/** What a mouse-head graft did (also written to `graft.json` beside the model). */
export interface GraftReport {
  mouse_head_from: string;
  trunk_from: string;
  /** Trunk tensors of the head's own file that differ from the trunk it now sits on. */
  trunk_tensors_differing: number;
  trunk_tensors_compared: number;
  /** Largest absolute difference over the differing trunk tensors (0 when identical). */
  trunk_max_abs_difference: number;
  caveat: string;
}

const WEIGHT_PREFERENCE = ['model.safetensors', 'weights.safetensors', 'pytorch_model.bin', 'model0_best.h5', 'model1_best.h5'];

/** The weights file of a downloaded model directory (safetensors first, then .bin, then .h5). */
async function pickWeights(dir: string): Promise<{ path: string }> {
  const names = await readdir(dir);
  // The official pair is two models (each file saved at its own head's best epoch, so the trunks differ):
  // never pick one silently, and never merge them without being asked.
  if (names.includes('model0_best.h5') && names.includes('model1_best.h5') && !names.some((n) => WEIGHT_PREFERENCE.slice(0, 3).includes(n))) {
    throw new ConvertError(
      `${dir}: holds both official Borzoi files, model0_best.h5 (human head) and model1_best.h5 (mouse head), which are separate models with different trunks; convert one with --weights, or graft the mouse head onto the human model explicitly: --weights model0_best.h5 --graft-mouse-head ${join(dir, 'model1_best.h5')}`,
    );
  }
  for (const n of WEIGHT_PREFERENCE) {
    if (names.includes(n)) return { path: join(dir, n) };
  }
  for (const ext of ['.safetensors', '.bin', '.pt', '.pth', '.h5']) {
    const c = names.filter((n) => n.endsWith(ext) && n !== 'tf_gammas.safetensors');
    if (c.length === 1) return { path: join(dir, c[0]!) };
    if (c.length > 1) throw new ConvertError(`${dir}: several ${ext} files (${c.join(', ')}); pick one with --weights`);
  }
  throw new ConvertError(`${dir}: no weights file (.safetensors, .bin, .pt, .h5)`);
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function sameBytes(a: WeightEntry, b: WeightEntry): boolean {
  const x = entryFloat32(a);
  const y = entryFloat32(b);
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
}

/** Reads the mouse head of another checkpoint and puts it on `main`'s trunk; reports how far the trunks differ. */
async function graftMouseHead(main: WeightSet, mainPath: string, source: string, arch: Borzoi): Promise<GraftReport> {
  if (!existsSync(source)) throw new ConvertError(`--graft-mouse-head ${source}: no such file or directory`);
  // Cheap checks before the second file is read: the input must not carry a mouse head already.
  if (main.has('mouse_head.weight')) throw new ConvertError(`${mainPath}: already has a mouse head; --graft-mouse-head would replace it`);
  const path = statSync(source).isDirectory() ? (await pickWeights(source)).path : source;
  const other = (await readWeights(path, arch)).weights;
  const head = [...other.entries.keys()].filter((n) => n.startsWith('mouse_head.'));
  if (head.length === 0) throw new ConvertError(`--graft-mouse-head ${path}: carries no mouse head (tensors mouse_head.*)`);
  let differing = 0;
  let compared = 0;
  let maxAbs = 0;
  for (const [name, e] of other.entries) {
    if (name.startsWith('mouse_head.') || name.startsWith('human_head.')) continue;
    const m = main.entries.get(name);
    if (!m || !sameShape(m.shape, e.shape)) throw new ConvertError(`--graft-mouse-head ${path}: trunk tensor ${name} has shape [${e.shape}], ${m ? `[${m.shape}]` : 'absent'} in ${mainPath} (not the same architecture)`);
    compared++;
    if (sameBytes(m, e)) continue;
    differing++;
    const x = entryFloat32(m);
    const y = entryFloat32(e);
    for (let i = 0; i < x.length; i++) maxAbs = Math.max(maxAbs, Math.abs(x[i]! - y[i]!));
  }
  for (const name of head) main.entries.set(name, other.entries.get(name)!);
  const caveat =
    differing === 0
      ? 'the two trunks are identical, so the mouse head sits on the trunk it was trained with'
      : `the mouse head now sits on the trunk of ${basename(mainPath)}, not on the trunk it was trained with (${differing} of ${compared} trunk tensors differ, max |difference| ${maxAbs.toPrecision(3)}); its predictions are those of a grafted model, not of ${basename(path)}`;
  return { mouse_head_from: path, trunk_from: mainPath, trunk_tensors_differing: differing, trunk_tensors_compared: compared, trunk_max_abs_difference: maxAbs, caveat };
}

async function readVocab(dir: string): Promise<{ tokens: string[]; file: string } | undefined> {
  for (const [file, json] of [['vocab.txt', false], ['tokenizer_config.json', true]] as const) {
    const p = join(dir, file);
    if (existsSync(p)) {
      const v = parseVocab(await readFile(p, 'utf8'), json);
      if (v) return { tokens: v, file: p };
    }
  }
  return undefined;
}

export async function convertModel(options: ConvertOptions): Promise<ConvertResult> {
  const log = options.log ?? (() => {});
  const { input } = options;
  if (!existsSync(input)) throw new ConvertError(`${input}: no such file or directory`);
  const inputIsDir = statSync(input).isDirectory();
  // Cheap checks first: an occupied output should not cost a read of the weights.
  const out = options.out;
  const finalNames = ['config.json', 'model.safetensors', 'tf_gammas.safetensors', 'graft.json'];
  if (!options.force) {
    const clash = finalNames.filter((n) => n !== 'tf_gammas.safetensors' && n !== 'graft.json' && existsSync(join(out, n)));
    if (clash.length) throw new ConvertError(`${out}: already holds ${clash.join(', ')} (use --force to replace)`);
  }
  const dir = inputIsDir ? input : dirname(input);
  let weightsPath: string;
  // A TensorFlow checkpoint is a set of files (`.index` + data shards), named by its prefix.
  const tfPrefix = findTfBundle(inputIsDir && options.weights ? join(input, options.weights) : input);
  if (tfPrefix) weightsPath = `${tfPrefix}.index`;
  else if (!inputIsDir) weightsPath = input;
  else if (options.weights) weightsPath = join(input, options.weights);
  else weightsPath = (await pickWeights(input)).path;
  const configPath = options.config ?? join(dir, 'config.json');
  // TensorFlow checkpoints carry no config: the Enformer one is derived from the tensors' shapes.
  const tf: EnformerCheckpoint | undefined = tfPrefix ? readEnformerCheckpoint(tfPrefix) : undefined;
  const haveConfig = options.config !== undefined || existsSync(configPath);
  if (!tf && !haveConfig) throw new ConvertError(`${input}: no config.json beside the weights; pass --config FILE`);
  const raw = haveConfig ? await readConfig(configPath) : enformerConfigFromWeights(tf!.weights, weightsPath);

  // Species of a MultiMolecule checkpoint: option, else its own config.json, else human.
  let species = options.species;
  if (!species && existsSync(join(dir, 'config.json'))) {
    const own = configPath === join(dir, 'config.json') ? raw : await readConfig(join(dir, 'config.json')).catch(() => ({}) as Record<string, unknown>);
    if (typeof own.species === 'string') species = own.species;
  }
  // A MultiMolecule config (from the folder or --config) is written out under the reference keys.
  const mm = isMultiMoleculeConfig(raw) ? fromMultiMoleculeConfig(raw, configPath, species) : undefined;
  if (mm) species = mm.species;
  const json = { ...(mm ? mm.hub : raw) };
  Object.assign(json, options.configOverrides ?? {});
  // Gamma table: option, else beside the input, else from a MultiMolecule checkpoint.
  const gammaSource = options.gammaTable ?? (inputIsDir && existsSync(join(dir, 'tf_gammas.safetensors')) ? join(dir, 'tf_gammas.safetensors') : undefined);
  if (tf) {
    // The TF original computes TF-normalised gamma features; the published table is those values.
    json.positional_gamma = 'tf';
    json.use_tf_gamma = gammaSource !== undefined;
  }
  const arch = architectureFromConfig(json, configPath);
  if (tf && arch.kind !== 'enformer') throw new ConvertError(`${weightsPath}: TensorFlow checkpoints are read for Enformer only (the config is ${arch.kind})`);
  if (options.graftMouseHead !== undefined) {
    // Checked before any weights are read.
    if (!(arch instanceof Borzoi)) throw new ConvertError(`--graft-mouse-head is for Borzoi models (the config is ${arch.kind})`);
    if (!existsSync(options.graftMouseHead)) throw new ConvertError(`--graft-mouse-head ${options.graftMouseHead}: no such file or directory`);
  }

  const vocab = await readVocab(dir);
  if (mm && vocab && vocab.tokens.length !== mm.vocabSize) {
    throw new ConvertError(`${configPath}: field "vocab_size" is ${mm.vocabSize}, but ${vocab.file} has ${vocab.tokens.length} tokens`);
  }
  const read: ReadResult = tf ? { format: 'tf-checkpoint', weights: tf.weights } : await readWeights(weightsPath, arch, { species, vocab: vocab?.tokens });
  if (tf) log(`Enformer module at '${tf.root}' in the object graph; ${tf.skipped} tensors skipped (moving-average internals, objects outside the model)`);
  log(`read ${read.weights.entries.size} tensors from ${weightsPath} (${read.format}${read.multimolecule ? ', MultiMolecule names' : ''}${read.legacyEnformer ? ", enformer-pytorch's layout from before 0.5" : ''})`);
  if (read.legacyEnformer && !('positional_gamma' in json)) {
    // The layout dates the file, not its gamma features: up to 0.4.5 they were divided by one global
    // maximum, in 0.4.6-0.4.7 (2022-05-31 on) per basis function; nothing in the weights says which.
    log(
      `warning: ${weightsPath}: written by enformer-pytorch before 0.5, whose gamma positional features were 'torch-global-max' (up to 0.4.5, e.g. EleutherAI's February 2022 checkpoints) or 'torch' (0.4.6-0.4.7); the config sets no positional_gamma, so 'tf' applies: set positional_gamma in config.json (or --gamma when predicting) to match how the model was trained`,
    );
  }
  const weights = read.weights;
  let graft: GraftReport | undefined;
  if (options.graftMouseHead !== undefined) {
    graft = await graftMouseHead(weights, weightsPath, options.graftMouseHead, arch as Borzoi);
    log(`grafted the mouse head of ${graft.mouse_head_from} onto ${weightsPath}: ${graft.caveat}`);
  }
  arch.adaptToWeights?.(weights.shapes());
  const expected = arch.expectedWeights();
  checkWeights(weights, expected, weightsPath);
  if (arch instanceof Borzoi) {
    json.enable_human_head = weights.has('human_head.weight');
    json.enable_mouse_head = weights.has('mouse_head.weight');
  }

  const createdOut = !existsSync(out);
  await mkdir(out, { recursive: true });
  const staging = join(out, `.convert-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  let done = false;
  try {
    const names = expected.map((t) => t.name);
    const metadata: Record<string, string> = { format: 'pt', converted_from: basename(weightsPath), producer: 'seq2track weights convert' };
    if (graft) metadata.grafted_mouse_head_from = basename(graft.mouse_head_from);
    await writeWeightSet(join(staging, 'model.safetensors'), weights, names, metadata);
    await writeFile(join(staging, 'config.json'), JSON.stringify(json, null, 2) + '\n');
    if (graft) await writeFile(join(staging, 'graft.json'), JSON.stringify(graft, null, 2) + '\n');
    if (gammaSource) await copyFile(gammaSource, join(staging, 'tf_gammas.safetensors'));
    else if (read.gammaTable && json.positional_gamma !== 'torch') {
      await writeSafetensors(join(staging, 'tf_gammas.safetensors'), [{ name: 'tf_gammas', dtype: 'F32', shape: read.gammaTable.shape, data: read.gammaTable.data }]);
    }
    // Verify: the written file holds exactly the tensors read, byte for byte, and the model loads.
    const written = await SafetensorsFile.open(join(staging, 'model.safetensors'));
    const back = WeightSet.fromSafetensors(written);
    checkWeights(back, expected, join(out, 'model.safetensors'));
    for (const name of names) {
      if (!sameBytes(back.entries.get(name)!, weights.entries.get(name)!)) throw new ConvertError(`${join(out, 'model.safetensors')}: tensor ${name} does not read back as written`);
    }
    if (options.loadCheck !== false) {
      const model = await loadModel(staging, { threads: 1 });
      await model.close();
    }
    for (const n of finalNames) {
      if (existsSync(join(staging, n))) await rename(join(staging, n), join(out, n));
      else if (options.force) await rm(join(out, n), { force: true });
    }
    done = true;
    log(`wrote ${names.length} tensors to ${join(out, 'model.safetensors')} and verified them`);
    return { out, format: read.format, kind: arch.kind, heads: arch.headNames, tensors: names.length, source: weightsPath, ...(graft ? { graft } : {}) };
  } finally {
    await rm(staging, { recursive: true, force: true });
    if (!done && createdOut) await rm(out, { recursive: true, force: true });
  }
}
