/**
 * AlphaGenome's outputs for a variant as alphagenome_research's `dna_model._predict_variant` makes
 * them: ref and alt windows through the whole model, then the junction head run again on both with
 * ONE set of splice sites, the top-k of the elementwise maximum of the two windows' splice-site
 * probabilities (`splicing.generate_splice_site_positions` with alt; no annotated splice sites), so
 * that ref and alt junction counts describe the same junctions.
 */
import type { TensorData } from '../../engine/protocol.js';
import type { OneHotBatch } from '../model-types.js';
import { alphaGenomeOutputShapes, type AlphaGenomeModel, type AlphaGenomeSink, type Organism } from './model.js';
import { SpliceSiteSelection } from './splice-site-selection.js';

/**
 * Splice sites [4, k] from probabilities [L, 5] (classes donor+, acceptor+, donor−, acceptor−,
 * none) of ref and alt: the junction head's top-K rule (splice-site-selection.ts: per kind the k
 * largest at or above `threshold`, lower position first on ties, ascending, padded with −1) on the
 * elementwise max(ref, alt).
 */
export function sharedSpliceSites(ref: ArrayLike<number>, alt: ArrayLike<number>, length: number, k: number, threshold: number): Int32Array {
  const both = Float32Array.from({ length: length * 5 }, (_, i) => Math.max(ref[i]!, alt[i]!));
  const selection = new SpliceSiteSelection(k, threshold, 0);
  selection.offer(0, length, both);
  return Int32Array.from(selection.result().positions, Number);
}

/** The outputs the whole-model scorers read, of one allele. */
export interface AlleleOutputs {
  /** [P, P, C] */
  contactMaps: Float32Array;
  /** [K, K, 2T], on the shared splice sites. */
  junctionCounts: Float32Array;
}

export interface VariantOutputs {
  ref: AlleleOutputs;
  alt: AlleleOutputs;
  /** The shared splice sites [4, K]. */
  spliceSites: Int32Array;
}

/**
 * Keeps only the outputs the variant scorers read (contact maps, splice-site probabilities, 1-bp
 * embeddings), each one [B, …] buffer: the 1-bp track heads, the largest outputs of a full-size
 * window, are dropped as their tiles arrive instead of being assembled.
 */
class KeptOutputs implements AlphaGenomeSink {
  readonly tensors = new Map<string, Float32Array>();

  constructor(
    private readonly batch: number,
    private readonly shapes: Map<string, { dims: number[] }>,
  ) {}

  /** Batch item `item` of output `name`. */
  item(name: string, item: number): Float32Array {
    const per = this.shapes.get(name)!.dims.reduce((x, y) => x * y, 1);
    let t = this.tensors.get(name);
    if (!t) this.tensors.set(name, (t = new Float32Array(this.batch * per)));
    return t.subarray(item * per, (item + 1) * per);
  }

  rows(name: string, item: number, first: number, data: Float32Array): void {
    if (KEPT.includes(name)) this.item(name, item).set(data, first * this.shapes.get(name)!.dims.at(-1)!);
  }

  whole(name: string, item: number, data: Float32Array | BigInt64Array): void {
    if (KEPT.includes(name)) this.item(name, item).set(data as Float32Array);
  }
}

const KEPT = ['contact_maps', 'splice_sites_probs', 'embeddings_1bp'];

/**
 * Ref and alt outputs of one variant: `windows` holds the ref then the alt window (one-hot, batch
 * 2). The model must be made with `embeddings1bp`.
 */
export async function predictVariantOutputs(model: AlphaGenomeModel, windows: OneHotBatch, organism: Organism | number = 'human'): Promise<VariantOutputs> {
  if (windows.batch !== 2) throw new Error(`predictVariantOutputs takes a ref and an alt window, not ${windows.batch}`);
  const L = windows.length;
  const kept = new KeptOutputs(2, alphaGenomeOutputShapes(model.config, L));
  await model.predict(windows, organism, { sink: kept });
  const emb = kept.tensors.get('embeddings_1bp');
  if (!emb) throw new Error('predictVariantOutputs needs an AlphaGenome model made with the embeddings1bp option');
  const K = model.config.numSpliceSites;
  const sites = sharedSpliceSites(kept.item('splice_sites_probs', 0), kept.item('splice_sites_probs', 1), L, K, model.config.spliceThreshold);
  const positions: TensorData = { dtype: 'int64', dims: [2, 4, K], data: BigInt64Array.from([...sites, ...sites], (p) => BigInt(p)) };
  const junctions = await model.junctionHead({ dtype: 'float32', dims: [2, L, model.config.embeddings1Dim], data: emb }, positions, organism);
  const counts = junctions.splice_junctions_pred_counts!;
  const per = counts.data.length / 2;
  const allele = (i: number): AlleleOutputs => ({ contactMaps: kept.item('contact_maps', i), junctionCounts: (counts.data as Float32Array).subarray(i * per, (i + 1) * per) });
  return { ref: allele(0), alt: allele(1), spliceSites: sites };
}
