/**
 * Published models by name, the local cache, and `resolveModel`: a directory is used as is; a known
 * name resolves to `<cache>/models/<name>`, fetched and converted on first use.
 *
 * Sources (all configurable, so tests and mirrors point elsewhere):
 * - Hugging Face hub (`SEQ2TRACK_HUB_URL`, default https://huggingface.co): `<hub>/<repo>/resolve/main/<file>`.
 * - the official Borzoi bucket (`SEQ2TRACK_BUCKET_URL`, default https://storage.googleapis.com/seqnn-share/borzoi):
 *   `<bucket>/f<k>/model{0,1}_best.h5`.
 * - GitHub raw files (`SEQ2TRACK_GITHUB_URL`, default https://raw.githubusercontent.com), for enformer-pytorch's
 *   TF gamma table, pinned to a commit and checked against the table's known sha256.
 *
 * Cache: `--cache-dir`, else `$SEQ2TRACK_CACHE`, else `$XDG_CACHE_HOME/seq2track`, else `~/.cache/seq2track`.
 * Layout: `models/<name>/` (config.json, model.safetensors, [tf_gammas.safetensors], source.json) and
 * `downloads/<name>/` (files in flight, `*.part` while incomplete; removed after conversion).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { convertModel } from './convert-model.js';
import { DownloadError, download, probe, type RemoteFile } from '../../weights/download.js';
import { readTorchTensor } from '../../weights/torch-checkpoint.js';
import { writeSafetensors } from '../../weights/safetensors.js';
import { writeAtomically } from '../../formats/partial-file.js';
import { cacheDir } from '../../cache.js';

export class RegistryError extends Error {}

type Origin = 'hub' | 'bucket' | 'github';

interface FileRef {
  origin: Origin;
  /** Path below the origin's base URL (hub: `<repo>/resolve/main/<file>`). */
  path: string;
}

export interface PublishedModel {
  name: string;
  description: string;
  license: string;
  config: FileRef;
  /** Weight files in order of preference: the first one the server has is used. */
  weights: FileRef[];
  /** A second Keras file whose mouse head is merged. */
  mouseH5?: FileRef;
  /** enformer-pytorch's TF gamma table (`tf_gammas.pt`), checked against the sha256 of its float32 values. */
  gammaTable?: FileRef & { valuesSha256: string; shape: number[] };
  configOverrides?: Record<string, unknown>;
}

const hub = (repo: string, file: string): FileRef => ({ origin: 'hub', path: `${repo}/resolve/main/${file}` });
const ENFORMER_PYTORCH_COMMIT = '5a5974d2821c728f93294731c50b55f1f55fd86d';

function published(): PublishedModel[] {
  const models: PublishedModel[] = [
    {
      name: 'enformer',
      description: 'Enformer, official weights ported to PyTorch (EleutherAI/enformer-official-rough), human + mouse heads, TF gamma table',
      license: 'Apache-2.0 (weights: DeepMind Enformer)',
      config: hub('EleutherAI/enformer-official-rough', 'config.json'),
      weights: [hub('EleutherAI/enformer-official-rough', 'model.safetensors'), hub('EleutherAI/enformer-official-rough', 'pytorch_model.bin')],
      gammaTable: {
        origin: 'github',
        path: `lucidrains/enformer-pytorch/${ENFORMER_PYTORCH_COMMIT}/enformer_pytorch/precomputed/tf_gammas.pt`,
        valuesSha256: '0f1af8a13d5922f9420521b8a28f4e762c48746effb1465a1aa4cb421a8ce9d2',
        shape: [3071, 32],
      },
      // The hub config has no use_tf_gamma; enformer-pytorch's from_pretrained turns it on for these weights.
      configOverrides: { use_tf_gamma: true },
    },
  ];
  for (let k = 0; k < 4; k++) {
    const repo = `johahi/borzoi-replicate-${k}`;
    models.push({
      name: `borzoi-human-rep${k}`,
      description: `Borzoi replicate ${k}, human head (${repo})`,
      license: 'CC-BY-4.0',
      config: hub(repo, 'config.json'),
      weights: [hub(repo, 'model.safetensors'), hub(repo, 'pytorch_model.bin')],
    });
    models.push({
      name: `borzoi-mouse-rep${k}`,
      description: `Borzoi replicate ${k}, mouse head (official Keras f${k}/model1_best.h5; config from ${repo})`,
      license: 'see calico/borzoi',
      config: hub(repo, 'config.json'),
      weights: [{ origin: 'bucket', path: `f${k}/model1_best.h5` }],
    });
    models.push({
      name: `borzoi-rep${k}`,
      description: `Borzoi replicate ${k}, human + mouse heads (official Keras f${k}/model0_best.h5 + model1_best.h5)`,
      license: 'see calico/borzoi',
      config: hub(repo, 'config.json'),
      weights: [{ origin: 'bucket', path: `f${k}/model0_best.h5` }],
      mouseH5: { origin: 'bucket', path: `f${k}/model1_best.h5` },
    });
    const flash = `johahi/flashzoi-replicate-${k}`;
    models.push({
      name: `flashzoi-rep${k}`,
      description: `Flashzoi replicate ${k}, human + mouse heads (${flash})`,
      license: 'MIT',
      config: hub(flash, 'config.json'),
      weights: [hub(flash, 'model.safetensors'), hub(flash, 'pytorch_model.bin')],
    });
  }
  return models;
}

export const PUBLISHED_MODELS: readonly PublishedModel[] = published();

export function findPublished(name: string): PublishedModel | undefined {
  return PUBLISHED_MODELS.find((m) => m.name === name);
}

export interface RegistryOptions {
  cacheDir?: string;
  hubUrl?: string;
  bucketUrl?: string;
  githubUrl?: string;
  /** Re-download and convert even when cached. */
  force?: boolean;
  log?: (line: string) => void;
  onProgress?: (file: string, done: number, total: number | undefined) => void;
}

export function cacheRoot(options: RegistryOptions = {}): string {
  return cacheDir(options.cacheDir);
}

function baseUrl(origin: Origin, options: RegistryOptions): string {
  const env = process.env;
  const url =
    origin === 'hub'
      ? (options.hubUrl ?? env.SEQ2TRACK_HUB_URL ?? 'https://huggingface.co')
      : origin === 'bucket'
        ? (options.bucketUrl ?? env.SEQ2TRACK_BUCKET_URL ?? 'https://storage.googleapis.com/seqnn-share/borzoi')
        : (options.githubUrl ?? env.SEQ2TRACK_GITHUB_URL ?? 'https://raw.githubusercontent.com');
  return url.replace(/\/+$/, '');
}

const urlOf = (ref: FileRef, options: RegistryOptions) => `${baseUrl(ref.origin, options)}/${ref.path}`;
const fileName = (ref: FileRef) => ref.path.slice(ref.path.lastIndexOf('/') + 1);

/** A cached model directory is complete when it has its config and weights (it is moved into place whole). */
export function cachedModelDir(name: string, options: RegistryOptions = {}): string | undefined {
  const dir = join(cacheRoot(options), 'models', name);
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors')) ? dir : undefined;
}

async function fetchFile(ref: FileRef, dir: string, options: RegistryOptions, required = true): Promise<{ path: string; remote: RemoteFile } | null> {
  const url = urlOf(ref, options);
  const remote = await probe(url);
  if (!remote) {
    if (required) throw new RegistryError(`${url}: not found (HTTP 404)`);
    return null;
  }
  const dest = join(dir, fileName(ref));
  if (!existsSync(dest)) {
    options.log?.(`downloading ${url}${remote.size !== undefined ? ` (${(remote.size / 1e6).toFixed(1)} MB)` : ''}`);
    await download(remote, dest, { onProgress: (done, total) => options.onProgress?.(fileName(ref), done, total) });
  }
  return { path: dest, remote };
}

/** Downloads, verifies and converts a published model into the cache; returns its directory. */
export async function fetchModel(name: string, options: RegistryOptions = {}): Promise<string> {
  const model = findPublished(name);
  if (!model) throw new RegistryError(`unknown model name '${name}' (known: ${PUBLISHED_MODELS.map((m) => m.name).join(', ')})`);
  const root = cacheRoot(options);
  const final = join(root, 'models', name);
  if (!options.force && cachedModelDir(name, options)) return final;
  const downloads = join(root, 'downloads', name);
  await mkdir(downloads, { recursive: true });
  const staging = join(root, 'models', `.${name}.partial-${process.pid}`);
  try {
    const sources: Record<string, unknown> = {};
    const config = await fetchFile(model.config, downloads, options);
    sources.config = { url: config!.remote.url, size: config!.remote.size, sha256: config!.remote.sha256 };
    let weights: { path: string; remote: RemoteFile } | null = null;
    for (const ref of model.weights) {
      weights = await fetchFile(ref, downloads, options, false);
      if (weights) break;
    }
    if (!weights) throw new RegistryError(`${name}: none of ${model.weights.map((r) => urlOf(r, options)).join(', ')} exists`);
    sources.weights = { url: weights.remote.url, size: weights.remote.size, sha256: weights.remote.sha256, md5: weights.remote.md5 };
    let mouseH5: string | undefined;
    if (model.mouseH5) {
      const m = await fetchFile(model.mouseH5, downloads, options);
      mouseH5 = m!.path;
      sources.mouse_h5 = { url: m!.remote.url, size: m!.remote.size, md5: m!.remote.md5 };
    }
    let gammaTable: string | undefined;
    if (model.gammaTable) {
      const g = await fetchFile(model.gammaTable, downloads, options);
      gammaTable = await gammaToSafetensors(g!.path, model.gammaTable, downloads);
      sources.gamma_table = { url: g!.remote.url, values_sha256: model.gammaTable.valuesSha256 };
    }
    await rm(staging, { recursive: true, force: true });
    options.log?.(`converting ${name}`);
    const result = await convertModel({
      input: downloads,
      weights: basename(weights.path),
      config: config!.path,
      mouseH5,
      gammaTable,
      configOverrides: model.configOverrides,
      out: staging,
    });
    await writeFile(
      join(staging, 'source.json'),
      JSON.stringify({ name, description: model.description, license: model.license, fetched: new Date().toISOString(), format: result.format, sources }, null, 2) + '\n',
    );
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
    await rm(downloads, { recursive: true, force: true });
    options.log?.(`${name}: ${result.kind}, heads ${result.heads.join(', ')}, ${result.tensors} tensors -> ${final}`);
    return final;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    // A file that failed its checksum was deleted; drop the rest of this model's downloads too, so the
    // cache holds nothing from a bad source. Interrupted transfers keep their .part files to resume.
    if (e instanceof DownloadError && /mismatch/.test(e.message)) await rm(downloads, { recursive: true, force: true });
    throw e;
  } finally {
    await removeIfEmpty(join(root, 'downloads'));
  }
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    if (readdirSync(dir).length === 0) await rm(dir, { recursive: true });
  } catch {
    // absent or not empty
  }
}

/** Reads `tf_gammas.pt` with the restricted unpickler, checks its values, writes `tf_gammas.safetensors`. */
async function gammaToSafetensors(ptPath: string, ref: NonNullable<PublishedModel['gammaTable']>, dir: string): Promise<string> {
  const t = readTorchTensor(ptPath);
  if (t.shape.length !== ref.shape.length || t.shape.some((d, i) => d !== ref.shape[i])) {
    throw new RegistryError(`${ptPath}: the TF gamma table has shape [${t.shape}], expected [${ref.shape}]`);
  }
  const sha = createHash('sha256').update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex');
  if (sha !== ref.valuesSha256) {
    await rm(ptPath, { force: true });
    throw new DownloadError(`${ptPath}: the TF gamma table's values sha256 mismatch (got ${sha}, expected ${ref.valuesSha256}); the download was deleted`);
  }
  const out = join(dir, 'tf_gammas.safetensors');
  await writeAtomically(out, (partial) => writeSafetensors(partial, [{ name: 'tf_gammas', dtype: 'F32', shape: t.shape, data: t.data }]));
  return out;
}

export interface CachedModel {
  name: string;
  dir: string;
  bytes: number;
  known: boolean;
  description?: string;
}

/** Models in the cache (complete ones only), published or converted by hand into it. */
export function listCached(options: RegistryOptions = {}): CachedModel[] {
  const dir = join(cacheRoot(options), 'models');
  if (!existsSync(dir)) return [];
  const out: CachedModel[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const d = join(dir, name);
    if (!cachedModelDir(name, options)) continue;
    const bytes = readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
    const p = findPublished(name);
    out.push({ name, dir: d, bytes, known: p !== undefined, description: p?.description });
  }
  return out;
}

export interface ResolveOptions extends RegistryOptions {
  /** Fetch a known but uncached model (default true). */
  fetch?: boolean;
}

/**
 * A model directory for a path or a published name (fetched into the cache on first use). Anything that
 * looks like a path (has a slash) is returned as is, so the loader reports what is missing there.
 */
export async function resolveModel(nameOrDir: string, options: ResolveOptions = {}): Promise<string> {
  if (existsSync(nameOrDir)) return nameOrDir;
  const model = findPublished(nameOrDir);
  if (!model) {
    // A path: let the model loader name what is missing (config.json, weights).
    if (/[\\/]/.test(nameOrDir)) return nameOrDir;
    throw new RegistryError(`${nameOrDir}: neither a model directory nor a known model name (known: ${PUBLISHED_MODELS.map((m) => m.name).join(', ')})`);
  }
  const cached = cachedModelDir(nameOrDir, options);
  if (cached) return cached;
  if (options.fetch === false) throw new RegistryError(`${nameOrDir}: not in the cache ${cacheRoot(options)}; run: seq2track weights fetch ${nameOrDir}`);
  return fetchModel(nameOrDir, options);
}
