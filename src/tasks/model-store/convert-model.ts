/**
 * `weights convert`: any supported checkpoint (PyTorch zip, Keras HDF5, safetensors with reference or
 * MultiMolecule names) -> a canonical model directory (`config.json` + float32 `model.safetensors`
 * under the reference names, + `tf_gammas.safetensors` where one comes along). The format is detected
 * from the file's first bytes, every tensor is checked against the architecture the config builds, and
 * the output is written into a staging folder, verified (bytes re-read and compared, model loaded), and
 * only then moved into place: a failure leaves nothing half-written.
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

export class ConvertError extends Error {}

export type WeightsFormat = 'pytorch-zip' | 'keras-h5' | 'safetensors';

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
}

/** Reads a weights file of any supported format under the architecture's canonical names. */
export async function readWeights(path: string, arch: Architecture, options: ReadOptions = {}): Promise<ReadResult> {
  const format = await detectFormat(path);
  if (format === 'pytorch-zip') return { format, weights: torchCheckpointWeights(path, (n) => arch.canonicalName(n)) };
  if (format === 'keras-h5') {
    if (!(arch instanceof Borzoi)) throw new ConvertError(`${path}: Keras HDF5 weights are supported for Borzoi only (the config is ${arch.kind})`);
    return { format, weights: (await readKerasBorzoi(path, arch)).weights };
  }
  const file = await SafetensorsFile.open(path);
  if (!isMultiMoleculeNames(file.tensors.keys())) return { format, weights: WeightSet.fromSafetensors(file, (n) => arch.canonicalName(n)) };
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
  /** A second Keras file (model1_best.h5) whose mouse head is merged with the first file's model. */
  mouseH5?: string;
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
}

const WEIGHT_PREFERENCE = ['model.safetensors', 'weights.safetensors', 'pytorch_model.bin', 'model0_best.h5', 'model1_best.h5'];

/** The weights file of a downloaded model directory (safetensors first, then .bin, then .h5). */
async function pickWeights(dir: string): Promise<{ path: string; mouseH5?: string }> {
  const names = await readdir(dir);
  for (const n of WEIGHT_PREFERENCE) {
    if (!names.includes(n)) continue;
    // Both official Keras files: the trunk + human head of one, the mouse head of the other.
    if (n === 'model0_best.h5' && names.includes('model1_best.h5')) return { path: join(dir, n), mouseH5: join(dir, 'model1_best.h5') };
    return { path: join(dir, n) };
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

/** Merges the mouse head of a second Keras file, after checking that both files share the trunk exactly. */
async function mergeMouseHead(main: WeightSet, mousePath: string, arch: Borzoi, mainPath: string): Promise<void> {
  const other = await readKerasBorzoi(mousePath, arch);
  if (other.head !== 'mouse') throw new ConvertError(`${mousePath}: carries the ${other.head} head, expected the mouse head (model1_best.h5)`);
  if (main.has('mouse_head.weight')) throw new ConvertError(`${mainPath}: already has a mouse head`);
  for (const [name, e] of other.weights.entries) {
    if (name.startsWith('mouse_head.')) {
      main.entries.set(name, e);
      continue;
    }
    const m = main.entries.get(name);
    if (!m || !sameShape(m.shape, e.shape) || !sameBytes(m, e)) {
      throw new ConvertError(`${mousePath}: trunk tensor ${name} differs from ${mainPath} (the two files are not the same replicate)`);
    }
  }
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
  const finalNames = ['config.json', 'model.safetensors', 'tf_gammas.safetensors'];
  if (!options.force) {
    const clash = finalNames.filter((n) => n !== 'tf_gammas.safetensors' && existsSync(join(out, n)));
    if (clash.length) throw new ConvertError(`${out}: already holds ${clash.join(', ')} (use --force to replace)`);
  }
  const dir = inputIsDir ? input : dirname(input);
  let weightsPath: string;
  let mouseH5 = options.mouseH5;
  if (!inputIsDir) weightsPath = input;
  else if (options.weights) weightsPath = join(input, options.weights);
  else {
    const picked = await pickWeights(input);
    weightsPath = picked.path;
    mouseH5 ??= picked.mouseH5;
  }
  const configPath = options.config ?? join(dir, 'config.json');
  if (!options.config && !existsSync(configPath)) throw new ConvertError(`${input}: no config.json beside the weights; pass --config FILE`);
  const raw = await readConfig(configPath);

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
  const arch = architectureFromConfig(json, configPath);

  const vocab = await readVocab(dir);
  if (mm && vocab && vocab.tokens.length !== mm.vocabSize) {
    throw new ConvertError(`${configPath}: field "vocab_size" is ${mm.vocabSize}, but ${vocab.file} has ${vocab.tokens.length} tokens`);
  }
  const read = await readWeights(weightsPath, arch, { species, vocab: vocab?.tokens });
  log(`read ${read.weights.entries.size} tensors from ${weightsPath} (${read.format}${read.multimolecule ? ', MultiMolecule names' : ''})`);
  const weights = read.weights;
  if (mouseH5) {
    if (!(arch instanceof Borzoi) || read.format !== 'keras-h5') throw new ConvertError(`--mouse-h5 needs a Borzoi Keras model0_best.h5 as input`);
    await mergeMouseHead(weights, mouseH5, arch, weightsPath);
    log(`merged the mouse head of ${mouseH5}`);
  }
  arch.adaptToWeights?.(weights.shapes());
  const expected = arch.expectedWeights();
  checkWeights(weights, expected, weightsPath);
  if (arch instanceof Borzoi) {
    json.enable_human_head = weights.has('human_head.weight');
    json.enable_mouse_head = weights.has('mouse_head.weight');
  }

  // Gamma table: option, else beside the input, else from a MultiMolecule checkpoint.
  const gammaSource = options.gammaTable ?? (inputIsDir && existsSync(join(dir, 'tf_gammas.safetensors')) ? join(dir, 'tf_gammas.safetensors') : undefined);

  const createdOut = !existsSync(out);
  await mkdir(out, { recursive: true });
  const staging = join(out, `.convert-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging);
  let done = false;
  try {
    const names = expected.map((t) => t.name);
    await writeWeightSet(join(staging, 'model.safetensors'), weights, names, { format: 'pt', converted_from: basename(weightsPath), producer: 'seq2track weights convert' });
    await writeFile(join(staging, 'config.json'), JSON.stringify(json, null, 2) + '\n');
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
    return { out, format: read.format, kind: arch.kind, heads: arch.headNames, tensors: names.length, source: weightsPath };
  } finally {
    await rm(staging, { recursive: true, force: true });
    if (!done && createdOut) await rm(out, { recursive: true, force: true });
  }
}
