/**
 * Published models by name, the local cache, and `resolveModel`: a directory is used as is; a known
 * name resolves to `<cache>/models/<name>`, fetched and converted on first use.
 *
 * A name is one published file set (a config and one weights file, plus the TF gamma table for the
 * official Enformer port), listed in `SOURCES` below with the revision it is fetched at and the sha256
 * of each file where a real value is known. Where none is known the entry says so (`null`): `weights
 * fetch` then warns that the file could not be checked against a known value and records the digest it
 * saw in `source.json`, so a later fetch can be compared by hand. Human and mouse Borzoi heads are
 * separate names: the official `model0_best.h5` / `model1_best.h5` pair is not one model (each was saved
 * at its own head's best epoch, so their trunks differ); `weights convert --graft-mouse-head` combines
 * them explicitly.
 *
 * Sources (all configurable, so tests and mirrors point elsewhere):
 * - Hugging Face hub (`SEQ2TRACK_HUB_URL`, default https://huggingface.co): `<hub>/<repo>/resolve/<revision>/<file>`.
 * - the official Borzoi bucket (`SEQ2TRACK_BUCKET_URL`, default https://storage.googleapis.com/seqnn-share/borzoi):
 *   `<bucket>/f<k>/model1_best.h5`.
 * - GitHub raw files (`SEQ2TRACK_GITHUB_URL`, default https://raw.githubusercontent.com), for enformer-pytorch's
 *   TF gamma table, pinned to a commit and checked against the table's known sha256.
 *
 * Cache: `--cache-dir`, else `$SEQ2TRACK_CACHE`, else `$XDG_CACHE_HOME/seq2track`, else `~/.cache/seq2track`.
 * Layout: `models/<name>/` (config.json, model.safetensors, [tf_gammas.safetensors], source.json),
 * `models/<name>@<revision>/` for a revision other than the pinned one, and `downloads/<name>/` (files in
 * flight, `*.part` while incomplete; removed after conversion).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
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

/** One file of a published model. */
export interface FileRef {
  origin: Origin;
  /** Hub: `owner/name`; bucket: the replicate folder (`f0`); github: `owner/name`. */
  repo: string;
  /** Hub / GitHub commit the file is fetched at; null: not pinned (the hub's `main` is fetched, its commit recorded). */
  revision: string | null;
  /** Path inside the repository, revision or folder. */
  file: string;
  /** sha256 of the file's bytes; null: no real value is known, the file is recorded but not verified. */
  sha256: string | null;
}

export interface PublishedModel {
  name: string;
  description: string;
  license: string;
  config: FileRef;
  weights: FileRef;
  /** enformer-pytorch's TF gamma table (`tf_gammas.pt`), checked against the sha256 of its float32 values. */
  gammaTable?: FileRef & { valuesSha256: string; shape: number[] };
  configOverrides?: Record<string, unknown>;
}

const NOT_PINNED = null;
const hubFile = (repo: string, revision: string | null, file: string, sha256: string | null): FileRef => ({ origin: 'hub', repo, revision, file, sha256 });

// Enformer (EleutherAI): revisions and digests read from the hub's own pages (commit histories, "Git LFS
// Details" of the file, LFS pointers in commit diffs); the ports trained in enformer-pytorch before its
// 2022-05-31 positional-feature change need that change's predecessor normalisation. Their files are in
// the port's state-dict layout from before 0.5, which convertModel recognises and maps
// (weights/enformer-legacy-names.ts).
const OFFICIAL = 'EleutherAI/enformer-official-rough';
const OFFICIAL_REV = 'affe5713ae9017460706a44108289b13c5fee16c'; // main's head ("remove convnext", 2022-06-12)
const ENFORMER_PYTORCH = { repo: 'lucidrains/enformer-pytorch', revision: '5a5974d2821c728f93294731c50b55f1f55fd86d' };
const TORCH_TRAINED = { positional_gamma: 'torch-global-max' };
const PREVIEW_BIN = '002c60fe79492947077e7c390dbc281ebf9535e17a2bc33bbcbca43a34f15970';

function enformerPort(name: string, repo: string, revision: string, binSha256: string | null, about: string): PublishedModel {
  return {
    name,
    description: `Enformer trained from scratch in enformer-pytorch (${repo}): ${about}`,
    license: 'Apache-2.0',
    config: hubFile(repo, revision, 'config.json', NOT_PINNED),
    weights: hubFile(repo, revision, 'pytorch_model.bin', binSha256),
    configOverrides: TORCH_TRAINED,
  };
}

function borzoiHuman(k: number, revision: string | null, file: string, sha256: string | null): PublishedModel {
  const repo = `johahi/borzoi-replicate-${k}`;
  return {
    name: `borzoi-human-rep${k}`,
    description: `Borzoi replicate ${k}, human head (${repo})`,
    license: 'CC-BY-4.0',
    config: hubFile(repo, revision, 'config.json', NOT_PINNED),
    weights: hubFile(repo, revision, file, sha256),
  };
}

function borzoiMouse(k: number, configRevision: string | null): PublishedModel {
  const repo = `johahi/borzoi-replicate-${k}`;
  return {
    name: `borzoi-mouse-rep${k}`,
    description: `Borzoi replicate ${k}, mouse head (official Keras f${k}/model1_best.h5; architecture config from ${repo})`,
    license: 'see calico/borzoi',
    config: hubFile(repo, configRevision, 'config.json', NOT_PINNED),
    weights: { origin: 'bucket', repo: `f${k}`, revision: null, file: 'model1_best.h5', sha256: NOT_PINNED },
  };
}

function flashzoi(k: number, revision: string | null, file: string, sha256: string | null): PublishedModel {
  const repo = `johahi/flashzoi-replicate-${k}`;
  return {
    name: `flashzoi-rep${k}`,
    description: `Flashzoi replicate ${k}, human + mouse heads (${repo})`,
    license: 'MIT',
    config: hubFile(repo, revision, 'config.json', NOT_PINNED),
    weights: hubFile(repo, revision, file, sha256),
  };
}

/**
 * Every published name, top to bottom. Provenance of each pinned value (hub pages as crawled; no file was
 * downloaded here) is in docs/weights.md. A revision is a hub commit that holds the listed weights file;
 * `NOT_PINNED` marks what is not known.
 */
export const SOURCES: readonly PublishedModel[] = [
  {
    name: 'enformer',
    description: `Enformer, official weights ported to PyTorch (${OFFICIAL}), human + mouse heads, TF gamma table`,
    license: 'Apache-2.0 (weights: DeepMind Enformer)',
    // Digests (439 and 1,005,149,571 bytes) as another project's frozen checkpoint contract pins them for this
    // revision; both agree with the hub's listed sizes.
    config: hubFile(OFFICIAL, OFFICIAL_REV, 'config.json', 'ad7a0e07b2fe40fd4c93a8528416406b4429f303946f5a93209ef26f160a034f'),
    weights: hubFile(OFFICIAL, OFFICIAL_REV, 'pytorch_model.bin', '99b09d602e195d89c7d4debe144bb2f43907ba0d74006e97098e99d9171c439c'),
    gammaTable: {
      origin: 'github',
      ...ENFORMER_PYTORCH,
      file: 'enformer_pytorch/precomputed/tf_gammas.pt',
      sha256: NOT_PINNED,
      valuesSha256: '0f1af8a13d5922f9420521b8a28f4e762c48746effb1465a1aa4cb421a8ce9d2',
      shape: [3071, 32],
    },
    // The hub config has no use_tf_gamma; enformer-pytorch's from_pretrained turns it on for these weights.
    configOverrides: { use_tf_gamma: true },
  },
  // "Add model" commit (main's later commits change README.md only); the same weights file as enformer-corr_coef_obj.
  enformerPort('enformer-preview', 'EleutherAI/enformer-preview', 'c6682b999d2df328f893dc5956942a2c4bdc8b3f', PREVIEW_BIN, 'the preview release (the same weights file as enformer-corr_coef_obj)'),
  enformerPort('enformer-191k', 'EleutherAI/enformer-191k', '2452a8c484d5dcf9290f5400dc0dc448517b72c8', NOT_PINNED, '196,608 bp, Poisson loss'),
  enformerPort('enformer-corr_coef_obj', 'EleutherAI/enformer-corr_coef_obj', '4aad70eea20892cb7e9c2d6f692a8277660bc0e8', PREVIEW_BIN, '131,072 bp, Pearson correlation objective'),
  enformerPort('enformer-191k_corr_coef_obj', 'EleutherAI/enformer-191k_corr_coef_obj', '5c9d4159c1815c487b206367493033d113fa3eea', NOT_PINNED, 'Pearson correlation objective'),
  // Borzoi replicates (PyTorch port, human head). The hub's main moved when safetensors copies were added,
  // so an unpinned name may fetch a newer commit than the one documented.
  borzoiHuman(0, NOT_PINNED, 'pytorch_model.bin', NOT_PINNED),
  borzoiHuman(1, 'b97d8c75db64c99042f31f186349c027344f2036', 'pytorch_model.bin', NOT_PINNED), // the weights upload
  borzoiHuman(2, NOT_PINNED, 'model.safetensors', 'a6785049ee34a0f075e3950313351d9d8b177f5be886997af0076c77accc861a'),
  borzoiHuman(3, NOT_PINNED, 'pytorch_model.bin', NOT_PINNED),
  // Borzoi mouse heads: the official Keras files (the bucket publishes no digests; the transfer is checked
  // against the bucket's md5).
  borzoiMouse(0, NOT_PINNED),
  borzoiMouse(1, 'b97d8c75db64c99042f31f186349c027344f2036'),
  borzoiMouse(2, NOT_PINNED),
  borzoiMouse(3, NOT_PINNED),
  // Flashzoi replicates (human + mouse heads).
  flashzoi(0, NOT_PINNED, 'pytorch_model.bin', '16dbb77387b2531d87669cc5d61b14a9918d48835be768aaa5b5d9a13cde7ec3'),
  flashzoi(1, NOT_PINNED, 'pytorch_model.bin', NOT_PINNED),
  flashzoi(2, NOT_PINNED, 'pytorch_model.bin', '1665dd3f69af7c93fee0ccd4070a3e50e853a36d92ffab3dcf2dbab712103a2c'),
  flashzoi(3, NOT_PINNED, 'pytorch_model.bin', NOT_PINNED),
];

export const PUBLISHED_MODELS: readonly PublishedModel[] = SOURCES;

/** Names that no longer exist, with what replaces them. */
const REMOVED: Record<string, string> = Object.fromEntries(
  [0, 1, 2, 3].map((k) => [
    `borzoi-rep${k}`,
    `the official human and mouse files of replicate ${k} sit on different trunks (each saved at its own head's best epoch), so they are separate models: borzoi-human-rep${k} and borzoi-mouse-rep${k}; a combined model only as an explicit graft: seq2track weights convert HUMAN --graft-mouse-head MOUSE --out DIR`,
  ]),
);

export function findPublished(name: string, sources: readonly PublishedModel[] = SOURCES): PublishedModel | undefined {
  return sources.find((m) => m.name === name);
}

function unknownName(name: string, sources: readonly PublishedModel[]): string {
  if (REMOVED[name]) return `${name}: no longer a published name: ${REMOVED[name]}`;
  return `unknown model name '${name}' (known: ${sources.map((m) => m.name).join(', ')})`;
}

export interface RegistryOptions {
  cacheDir?: string;
  hubUrl?: string;
  bucketUrl?: string;
  githubUrl?: string;
  /** Re-download and convert even when cached. */
  force?: boolean;
  /**
   * Fetch this hub revision (commit, branch or tag) instead of the pinned one. The registry's digests
   * then do not apply: what was fetched is recorded in source.json, and the model is cached as
   * `<name>@<revision>` so the published name keeps meaning the pinned files.
   */
  revision?: string;
  /** The table of published models (default `SOURCES`): a test's or a mirror's own table. */
  sources?: readonly PublishedModel[];
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

function urlOf(ref: FileRef, options: RegistryOptions): string {
  const path =
    ref.origin === 'hub'
      ? `${ref.repo}/resolve/${ref.revision ?? 'main'}/${ref.file}`
      : ref.origin === 'github'
        ? `${ref.repo}/${ref.revision ?? 'main'}/${ref.file}`
        : `${ref.repo}/${ref.file}`;
  return `${baseUrl(ref.origin, options)}/${path}`;
}

const fileName = (ref: FileRef) => ref.file.slice(ref.file.lastIndexOf('/') + 1);

/** The cache name of a fetch: the published name, or `<name>@<revision>` for another revision. */
export function cacheName(name: string, revision?: string): string {
  return revision ? `${name}@${revision.replace(/[^A-Za-z0-9._-]/g, '_')}` : name;
}

/** A cached model directory is complete when it has its config and weights (it is moved into place whole). */
export function cachedModelDir(name: string, options: RegistryOptions = {}): string | undefined {
  const dir = join(cacheRoot(options), 'models', cacheName(name, options.revision));
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'model.safetensors')) ? dir : undefined;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type Role = 'config' | 'weights' | 'gamma_table';

interface Planned {
  role: Role;
  ref: FileRef;
  url: string;
  remote: RemoteFile;
  /** The digest the bytes must have; null where the registry has none or another revision was asked for. */
  pinned: string | null;
}

/**
 * Probes every file of a model before any is downloaded, so a missing file or one whose server-side
 * digest no longer matches the pinned value fails before a gigabyte arrives.
 */
async function planFetch(model: PublishedModel, options: RegistryOptions): Promise<Planned[]> {
  const override = options.revision;
  const files: [Role, FileRef][] = [['config', model.config]];
  if (model.gammaTable) files.push(['gamma_table', model.gammaTable]);
  files.push(['weights', model.weights]);
  const out: Planned[] = [];
  for (const [role, original] of files) {
    const ref = override && original.origin === 'hub' ? { ...original, revision: override } : original;
    const url = urlOf(ref, options);
    const remote = await probe(url);
    if (!remote) throw new RegistryError(`${model.name}: ${url}: not found (HTTP 404)${override && ref.origin === 'hub' ? ` at revision ${override}` : ''}`);
    const pinned = override && original.origin === 'hub' ? null : original.sha256;
    if (pinned && remote.sha256 && remote.sha256 !== pinned) {
      throw new DownloadError(`${model.name}: ${ref.file} (${url}): sha256 mismatch: expected ${pinned} (pinned), the server reports ${remote.sha256}; nothing was downloaded`);
    }
    out.push({ role, ref, url, remote, pinned });
  }
  return out;
}

/** Downloads, verifies and converts a published model into the cache; returns its directory. */
export async function fetchModel(name: string, options: RegistryOptions = {}): Promise<string> {
  const sources = options.sources ?? SOURCES;
  const model = findPublished(name, sources);
  if (!model) throw new RegistryError(unknownName(name, sources));
  // Asking for the pinned revision is the published name itself.
  if (options.revision !== undefined && (options.revision === '' || options.revision === model.weights.revision)) options = { ...options, revision: undefined };
  if (options.revision && model.weights.origin !== 'hub') {
    throw new RegistryError(`${name}: --revision selects a Hugging Face hub revision; this model's weights come from ${model.weights.origin === 'bucket' ? 'the official Borzoi bucket' : model.weights.origin}, which has none`);
  }
  const log = options.log ?? (() => {});
  const root = cacheRoot(options);
  const cached = cacheName(name, options.revision);
  const final = join(root, 'models', cached);
  if (!options.force && cachedModelDir(name, options)) return final;
  const plan = await planFetch(model, options);
  const weightsRef = plan.find((p) => p.role === 'weights')!;
  if (options.revision) {
    const instead = model.weights.revision ? `the pinned ${model.weights.revision}` : 'main (no revision is pinned)';
    log(`warning: ${name}: fetching revision ${options.revision} of ${model.weights.repo} instead of ${instead}; the registry's digests do not apply, what is fetched is recorded in source.json`);
  } else if (model.weights.origin === 'hub' && model.weights.revision === null) {
    log(`warning: ${name}: no pinned revision for ${model.weights.repo}; fetching main${weightsRef.remote.commit ? ` (commit ${weightsRef.remote.commit})` : ''}`);
  }
  const total = plan.reduce((s, p) => s + (p.remote.size ?? 0), 0);
  log(`${name}: ${plan.length} files, ${(total / 1e6).toFixed(1)} MB`);

  const downloads = join(root, 'downloads', cached);
  await mkdir(downloads, { recursive: true });
  const staging = join(root, 'models', `.${cached}.partial-${process.pid}`);
  try {
    const record: Record<string, unknown> = {};
    const paths: Partial<Record<Role, string>> = {};
    for (const p of plan) {
      const dest = join(downloads, fileName(p.ref));
      let sha256: string;
      if (existsSync(dest)) {
        // Left by a run whose conversion failed: it passed its checks then, but the pin is checked again.
        sha256 = await fileSha256(dest);
        if (p.pinned && sha256 !== p.pinned) {
          await rm(dest, { force: true });
          throw new DownloadError(`${p.url}: sha256 mismatch: expected ${p.pinned} (pinned), found ${sha256}; the download was deleted`);
        }
      } else {
        log(`downloading ${p.url}${p.remote.size !== undefined ? ` (${(p.remote.size / 1e6).toFixed(1)} MB)` : ''}`);
        const got = await download(p.remote, dest, { expectedSha256: p.pinned ?? undefined, onProgress: (done, all) => options.onProgress?.(fileName(p.ref), done, all) });
        sha256 = got.sha256;
      }
      paths[p.role] = dest;
      const valuesPinned = p.role === 'gamma_table';
      const verified = p.pinned ? 'pinned sha256' : valuesPinned ? 'pinned sha256 of the values' : p.remote.sha256 ? 'server sha256 only' : p.remote.md5 ? 'server md5 only' : 'not verified';
      record[p.role] = {
        url: p.url,
        ...(p.ref.origin !== 'bucket' ? { revision: p.remote.commit ?? p.ref.revision ?? null } : {}),
        size: statSync(dest).size,
        sha256,
        pinned_sha256: p.pinned,
        ...(p.remote.md5 ? { md5: p.remote.md5 } : {}),
        verified,
      };
      if (!p.pinned && !valuesPinned) {
        log(`warning: ${name}: ${fileName(p.ref)}: no pinned sha256${options.revision ? ' for this revision' : ' in the registry'}, so it could not be verified against a known value (${verified}; sha256 ${sha256}, recorded in source.json)`);
      }
    }
    let gammaTable: string | undefined;
    if (model.gammaTable) {
      gammaTable = await gammaToSafetensors(paths.gamma_table!, model.gammaTable, downloads);
      (record.gamma_table as Record<string, unknown>).values_sha256 = model.gammaTable.valuesSha256;
    }
    await rm(staging, { recursive: true, force: true });
    log(`converting ${name}`);
    const result = await convertModel({
      input: downloads,
      weights: basename(paths.weights!),
      config: paths.config!,
      gammaTable,
      configOverrides: model.configOverrides,
      out: staging,
    });
    const source = {
      name,
      description: model.description,
      license: model.license,
      fetched: new Date().toISOString(),
      revision: {
        pinned: model.weights.origin === 'hub' ? model.weights.revision : null,
        requested: options.revision ?? null,
        fetched: weightsRef.remote.commit ?? (options.revision || model.weights.revision) ?? null,
      },
      format: result.format,
      sources: record,
    };
    await writeFile(join(staging, 'source.json'), JSON.stringify(source, null, 2) + '\n');
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
    await rm(downloads, { recursive: true, force: true });
    log(`${name}: ${result.kind}, heads ${result.heads.join(', ')}, ${result.tensors} tensors -> ${final}`);
    return final;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    // A file that failed its checksum was deleted; drop the rest of this model's downloads too, so the
    // cache holds nothing from a bad source. Interrupted transfers keep their .part files to resume.
    if (e instanceof DownloadError && /mismatch/.test(e.message)) await rm(downloads, { recursive: true, force: true });
    throw e;
  } finally {
    await removeIfEmpty(downloads);
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
    throw new DownloadError(`${ptPath}: the TF gamma table's values sha256 mismatch: expected ${ref.valuesSha256} (pinned), found ${sha}; the download was deleted`);
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
    if (!cachedModelDir(name, { ...options, revision: undefined })) continue;
    const bytes = readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
    const p = findPublished(name, options.sources);
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
  const sources = options.sources ?? SOURCES;
  const model = findPublished(nameOrDir, sources);
  if (!model) {
    // A path: let the model loader name what is missing (config.json, weights).
    if (/[\\/]/.test(nameOrDir)) return nameOrDir;
    if (REMOVED[nameOrDir]) throw new RegistryError(unknownName(nameOrDir, sources));
    throw new RegistryError(`${nameOrDir}: neither a model directory nor a known model name (known: ${sources.map((m) => m.name).join(', ')})`);
  }
  const cached = cachedModelDir(nameOrDir, options);
  if (cached) return cached;
  if (options.fetch === false) throw new RegistryError(`${nameOrDir}: not in the cache ${cacheRoot(options)}; run: seq2track weights fetch ${nameOrDir}`);
  return fetchModel(nameOrDir, options);
}
