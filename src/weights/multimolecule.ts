/**
 * MultiMolecule (DLS5-Omics/multimolecule) checkpoints: HF-style `model.encoder.*` + `token_head.decoder.*`
 * safetensors names mapped back to the reference names (enformer-pytorch / borzoi-pytorch). One species
 * head per checkpoint (`species` in its config, human by default). Two tensors also change layout: the
 * stem conv's input channels follow MultiMolecule's tokenizer alphabet (the A, C, G, T columns are
 * picked by the vocabulary), and Borzoi's head is a Linear [out, in] where ours is a 1x1 conv [out, in, 1].
 */
import type { WeightSet } from './weight-set.js';
import { entryFloat32 } from './weight-file.js';

export class MultiMoleculeError extends Error {}

export function isMultiMoleculeNames(names: Iterable<string>): boolean {
  for (const n of names) if (n.startsWith('model.encoder.') || n.startsWith('token_head.')) return true;
  return false;
}

type Rule = [RegExp, string];

const TRANSFORMER: Rule[] = [
  [/^model\.encoder\.layers\.(\d+)\.attention\.gamma_position_basis$/, ''],
  [/^model\.encoder\.layers\.(\d+)\.attention\.layer_norm\.(.+)$/, 'transformer.$1.0.fn.0.$2'],
  [/^model\.encoder\.layers\.(\d+)\.attention\.(.+)$/, 'transformer.$1.0.fn.1.$2'],
  [/^model\.encoder\.layers\.(\d+)\.intermediate\.layer_norm\.(.+)$/, 'transformer.$1.1.fn.0.$2'],
  [/^model\.encoder\.layers\.(\d+)\.intermediate\.dense1\.(.+)$/, 'transformer.$1.1.fn.1.$2'],
  [/^model\.encoder\.layers\.(\d+)\.intermediate\.dense2\.(.+)$/, 'transformer.$1.1.fn.4.$2'],
];

const ENFORMER: Rule[] = [
  [/^model\.encoder\.stem\.conv1\.(.+)$/, 'stem.0.$1'],
  [/^model\.encoder\.stem\.conv_block\.batch_norm1\.(.+)$/, 'stem.1.fn.0.$1'],
  [/^model\.encoder\.stem\.conv_block\.conv1\.(.+)$/, 'stem.1.fn.2.$1'],
  [/^model\.encoder\.stem\.pool\.(.+)$/, 'stem.2.$1'],
  [/^model\.encoder\.conv_tower\.(\d+)\.conv_block\.batch_norm1\.(.+)$/, 'conv_tower.$1.0.0.$2'],
  [/^model\.encoder\.conv_tower\.(\d+)\.conv_block\.conv1\.(.+)$/, 'conv_tower.$1.0.2.$2'],
  [/^model\.encoder\.conv_tower\.(\d+)\.conv_block_residual\.batch_norm1\.(.+)$/, 'conv_tower.$1.1.fn.0.$2'],
  [/^model\.encoder\.conv_tower\.(\d+)\.conv_block_residual\.conv1\.(.+)$/, 'conv_tower.$1.1.fn.2.$2'],
  [/^model\.encoder\.conv_tower\.(\d+)\.pool\.(.+)$/, 'conv_tower.$1.2.$2'],
  ...TRANSFORMER,
  [/^model\.encoder\.head\.conv_block\.batch_norm1\.(.+)$/, 'final_pointwise.1.0.$1'],
  [/^model\.encoder\.head\.conv_block\.conv1\.(.+)$/, 'final_pointwise.1.2.$1'],
  [/^token_head\.decoder\.(.+)$/, '_heads.{species}.0.$1'],
];

const BORZOI_BLOCKS: Record<string, string> = {
  unet_bottleneck: 'unet1.1',
  upsample1: 'upsampling_unet1.0',
  skip1_proj: 'horizontal_conv1',
  upsample0: 'upsampling_unet0.0',
  skip0_proj: 'horizontal_conv0',
  head: 'final_joined_convs.0',
};

const BORZOI: Rule[] = [
  [/^model\.encoder\.stem\.conv1\.(.+)$/, 'conv_dna.conv_layer.$1'],
  [/^model\.encoder\.conv_tower\.(\d+)\.conv1\.(.+)$/, 'res_tower.{2x$1}.conv_layer.$2'],
  [/^model\.encoder\.conv_tower\.(\d+)\.batch_norm1\.(.+)$/, 'res_tower.{2x$1}.norm.$2'],
  ...Object.entries(BORZOI_BLOCKS).flatMap(([mm, ours]): Rule[] => [
    [new RegExp(`^model\\.encoder\\.${mm}\\.conv1\\.(.+)$`), `${ours}.conv_layer.$1`],
    [new RegExp(`^model\\.encoder\\.${mm}\\.batch_norm1\\.(.+)$`), `${ours}.norm.$1`],
  ]),
  [/^model\.encoder\.(separable[01])\.depthwise\.(.+)$/, '$1.conv_layer.0.$2'],
  [/^model\.encoder\.(separable[01])\.pointwise\.(.+)$/, '$1.conv_layer.1.$2'],
  ...TRANSFORMER,
  [/^token_head\.decoder\.(.+)$/, '{species}_head.$1'],
];

/** Maps one MultiMolecule name to ours; null drops it (counters, the per-layer gamma copies). Unknown names pass through unchanged, so the shape check names them. */
export function multimoleculeName(name: string, kind: 'enformer' | 'borzoi', species: string): string | null {
  if (name.endsWith('.num_batches_tracked')) return null;
  for (const [re, to] of kind === 'enformer' ? ENFORMER : BORZOI) {
    const m = re.exec(name);
    if (!m) continue;
    if (to === '') return null;
    return to
      .replace(/\{2x\$(\d)\}/g, (_, g) => String(2 * Number(m[Number(g)])))
      .replace(/\$(\d)/g, (_, g) => m[Number(g)]!)
      .replace('{species}', species);
  }
  return name;
}

/**
 * Undoes MultiMolecule's two layout changes on a weight set already renamed by `multimoleculeName`.
 * `vocab` is the tokenizer vocabulary (needed when the stem conv has more than 4 input channels).
 */
export function fixMultiMoleculeLayout(out: WeightSet, kind: 'enformer' | 'borzoi', species: string, what: string, vocab?: string[]): WeightSet {
  const stem = kind === 'enformer' ? 'stem.0.weight' : 'conv_dna.conv_layer.weight';
  const s = out.entries.get(stem);
  if (s && s.shape.length === 3 && s.shape[1] !== 4) {
    if (!vocab) throw new MultiMoleculeError(`${what}: the stem conv has ${s.shape[1]} input channels (MultiMolecule tokenizer alphabet); put its vocab.txt or tokenizer_config.json beside the weights`);
    if (vocab.length !== s.shape[1]) throw new MultiMoleculeError(`${what}: the vocabulary has ${vocab.length} tokens but the stem conv has ${s.shape[1]} input channels`);
    const columns = ['A', 'C', 'G', 'T'].map((b) => {
      const i = vocab.indexOf(b);
      if (i < 0) throw new MultiMoleculeError(`${what}: the vocabulary has no token '${b}'`);
      return i;
    });
    const [o, v, k] = s.shape as [number, number, number];
    const src = entryFloat32(s);
    const data = new Float32Array(o * 4 * k);
    for (let a = 0; a < o; a++) for (let c = 0; c < 4; c++) data.set(src.subarray((a * v + columns[c]!) * k, (a * v + columns[c]! + 1) * k), (a * 4 + c) * k);
    out.entries.set(stem, { shape: [o, 4, k], source: { kind: 'bytes', bytes: new Uint8Array(data.buffer) } });
  }
  if (kind === 'borzoi') {
    const head = out.entries.get(`${species}_head.weight`);
    if (head && head.shape.length === 2) out.entries.set(`${species}_head.weight`, { shape: [...head.shape, 1], source: head.source });
  }
  return out;
}

/** The tokenizer vocabulary of a MultiMolecule model directory, if it has one. */
export function parseVocab(text: string, json: boolean): string[] | undefined {
  if (!json) return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  const cfg = JSON.parse(text) as { alphabet?: unknown };
  const a = cfg.alphabet;
  if (typeof a === 'string') return [...a];
  if (Array.isArray(a) && a.every((x) => typeof x === 'string')) return a as string[];
  if (a && typeof a === 'object' && Array.isArray((a as { vocabulary?: unknown }).vocabulary)) return (a as { vocabulary: string[] }).vocabulary;
  return undefined;
}
