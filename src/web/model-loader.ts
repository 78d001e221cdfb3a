/**
 * Opens a model directory in the page: config.json and the safetensors weights, from files the user
 * picked or from a URL (served with range requests). Only the config and the weights header are read
 * here; the engine worker reads the weight bytes itself. Problems become one-line ModelDirError /
 * ConfigError / WeightsMismatchError messages naming the file, shown in the page.
 */
import { Model, type ModelOptions } from '../models/model-core.js';
import { architectureFromConfig, ModelDirError, parseConfigText, pickWeightsFile } from '../models/from-config.js';
import { Enformer } from '../models/enformer.js';
import { MAX_HEADER, SafetensorsError, parseSafetensorsHeader, toFloat32, type TensorInfo } from '../weights/safetensors-format.js';
import { WeightSet } from '../weights/weight-set.js';
import type { AlphaGenomeTracksOptions } from '../models/alphagenome/tracks-architecture.js';
import type { WebEngine } from '../engine/web/engine.js';
import type { ByteSource } from '../engine/web/protocol.js';

/** A model directory: picked files, or a base URL (ending in /) with its file names when the server lists them. */
export type ModelLocation = { kind: 'files'; name: string; files: File[] } | { kind: 'url'; name: string; base: string; files?: string[] };

/** One file of a model directory, read by byte ranges. */
interface RemoteBytes {
  label: string;
  source: ByteSource;
  size: number;
  read(from: number, length: number): Promise<Uint8Array>;
}

function fileBytes(file: File, label: string): RemoteBytes {
  return {
    label,
    source: { blob: file },
    size: file.size,
    read: async (from, length) => new Uint8Array(await file.slice(from, from + length).arrayBuffer()),
  };
}

/** Opens a URL for range reads; undefined when it is not there (404). */
async function urlBytes(url: string, label: string): Promise<RemoteBytes | undefined> {
  let r: Response;
  try {
    r = await fetch(url, { headers: { Range: 'bytes=0-7' } });
  } catch (e) {
    throw new ModelDirError(`${label}: cannot fetch (${(e as Error).message})`);
  }
  if (r.status === 404) return undefined;
  if (!r.ok) throw new ModelDirError(`${label}: HTTP ${r.status} ${r.statusText}`);
  if (r.status === 206) {
    const total = Number(/\/(\d+)$/.exec(r.headers.get('Content-Range') ?? '')?.[1]);
    await r.arrayBuffer();
    if (!Number.isFinite(total)) throw new ModelDirError(`${label}: the server's range reply has no total size`);
    const read = async (from: number, length: number) => {
      const part = await fetch(url, { headers: { Range: `bytes=${from}-${from + length - 1}` } });
      if (part.status !== 206) throw new ModelDirError(`${label}: range request failed (HTTP ${part.status})`);
      return new Uint8Array(await part.arrayBuffer());
    };
    return { label, source: { url }, size: total, read };
  }
  // No range support: the file is read once, whole.
  const blob = await r.blob();
  return { ...fileBytes(new File([blob], label), label), source: { blob } };
}

async function readText(bytes: RemoteBytes): Promise<string> {
  return new TextDecoder().decode(await bytes.read(0, bytes.size));
}

async function readHeader(bytes: RemoteBytes): Promise<Map<string, TensorInfo>> {
  if (bytes.size < 8) throw new SafetensorsError(`${bytes.label}: not a safetensors file (shorter than 8 bytes)`);
  const prefix = await bytes.read(0, 8);
  const headerLength = Number(new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true));
  if (headerLength > MAX_HEADER || headerLength + 8 > bytes.size) {
    throw new SafetensorsError(`${bytes.label}: not a safetensors file (header length ${headerLength} does not fit the file of ${bytes.size} bytes)`);
  }
  return parseSafetensorsHeader(bytes.label, await bytes.read(8, headerLength), 8 + headerLength, bytes.size).tensors;
}

/** The files of a location by name. */
async function directory(loc: ModelLocation): Promise<{ names: string[]; open(name: string): Promise<RemoteBytes | undefined> }> {
  if (loc.kind === 'files') {
    const byName = new Map(loc.files.map((f) => [f.name, f]));
    return {
      names: [...byName.keys()],
      open: async (name) => {
        const f = byName.get(name);
        return f ? fileBytes(f, `${loc.name}/${name}`) : undefined;
      },
    };
  }
  const open = (name: string) => urlBytes(new URL(name, loc.base).href, `${loc.base}${name}`);
  if (loc.files) return { names: loc.files, open };
  // No listing: probe the two names a model directory's weights usually have.
  const names = ['config.json'];
  for (const n of ['model.safetensors', 'weights.safetensors']) if (await open(n)) names.push(n);
  return { names, open };
}

export interface LoadedModel {
  model: Model;
  label: string;
}

/** Options of the page's loads: the model's, and for an AlphaGenome model its organism and resolution (ignored by the others). */
export interface OpenOptions extends ModelOptions {
  alphaGenome?: AlphaGenomeTracksOptions;
}

/** Reads the config and weights header, then builds the model's sessions on `engine`. */
export async function openModel(loc: ModelLocation, engine: WebEngine, options: OpenOptions = {}): Promise<LoadedModel> {
  const label = loc.kind === 'url' ? loc.base : loc.name;
  const dir = await directory(loc);
  const configBytes = await dir.open('config.json');
  if (!configBytes) throw new ModelDirError(`${label}: no config.json in the model directory`);
  const configLabel = configBytes.label;
  const { alphaGenome, ...modelOptions } = options;
  const arch = architectureFromConfig(parseConfigText(await readText(configBytes), configLabel), configLabel, alphaGenome);
  const weightsName = pickWeightsFile(dir.names, label);
  const weightsBytes = await dir.open(weightsName);
  if (!weightsBytes) throw new ModelDirError(`${label}: ${weightsName} is listed but cannot be read`);
  const tensors = await readHeader(weightsBytes);
  // F32 tensors stay in the file for the worker to read; others are converted here, once.
  const converted = new Map<string, Uint8Array>();
  for (const info of tensors.values()) {
    if (info.dtype === 'F32') continue;
    const f32 = toFloat32(await weightsBytes.read(info.offset, info.length), info.dtype, `${weightsBytes.label}: ${info.name}`);
    converted.set(info.name, new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
  }
  const key = weightsBytes.label;
  await engine.addSource(key, weightsBytes.source);
  const weights = WeightSet.fromSafetensors({ path: key, tensors, readBytes: (name) => converted.get(name)! }, (n) => arch.canonicalName(n));
  let gammaTable = modelOptions.gammaTable;
  if (!gammaTable && arch instanceof Enformer && arch.config.useTfGamma && dir.names.includes('tf_gammas.safetensors')) {
    const g = (await dir.open('tf_gammas.safetensors'))!;
    const info = (await readHeader(g)).get('tf_gammas');
    if (!info || info.shape.length !== 2) throw new ModelDirError(`${g.label}: expected a tensor 'tf_gammas' of shape [2n-1, features]`);
    gammaTable = { n: (info.shape[0]! + 1) / 2, values: toFloat32(await g.read(info.offset, info.length), info.dtype, g.label) };
  }
  const model = await Model.create(arch, weights, key, { ...modelOptions, gammaTable }, engine);
  return { model, label };
}
