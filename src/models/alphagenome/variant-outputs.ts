/**
 * AlphaGenome's outputs for a variant as alphagenome_research's `dna_model._predict_variant` makes
 * them: ref and alt windows through the whole model, then the junction head run again on both with
 * ONE set of splice sites, the top-k of the elementwise maximum of the two windows' splice-site
 * probabilities (`splicing.generate_splice_site_positions` with alt; no annotated splice sites), so
 * that ref and alt junction counts describe the same junctions.
 */
import type { TensorData } from '../../engine/protocol.js';
import type { OneHotBatch } from '../model-types.js';
import type { AlphaGenomeModel, Organism } from './model.js';

/**
 * Splice sites [4, k] from probabilities [L, 5] (classes donor+, acceptor+, donor−, acceptor−,
 * none) of ref and alt: per kind, the k positions of largest max(ref, alt) (lower position first on
 * ties, as ONNX TopK), those below `threshold` dropped, ascending, padded with −1.
 */
export function sharedSpliceSites(ref: ArrayLike<number>, alt: ArrayLike<number>, length: number, k: number, threshold: number): Int32Array {
  const out = new Int32Array(4 * k).fill(-1);
  const order = Array.from({ length }, (_, p) => p);
  for (let kind = 0; kind < 4; kind++) {
    const v = (p: number) => Math.max(ref[p * 5 + kind]!, alt[p * 5 + kind]!);
    const top = [...order].sort((a, b) => v(b) - v(a) || a - b).slice(0, k);
    const kept = top.filter((p) => v(p) >= threshold).sort((a, b) => a - b);
    out.set(kept, kind * k);
  }
  return out;
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

/** Batch item `i` of a tensor. */
function item(t: TensorData, i: number): Float32Array {
  const n = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return (t.data as Float32Array).slice(i * n, (i + 1) * n);
}

/**
 * Ref and alt outputs of one variant: `windows` holds the ref then the alt window (one-hot, batch
 * 2). The model must be made with `embeddings1bp`.
 */
export async function predictVariantOutputs(model: AlphaGenomeModel, windows: OneHotBatch, organism: Organism | number = 'human'): Promise<VariantOutputs> {
  if (windows.batch !== 2) throw new Error(`predictVariantOutputs takes a ref and an alt window, not ${windows.batch}`);
  const out = await model.predict(windows, organism);
  const emb = out.embeddings_1bp;
  if (!emb) throw new Error('predictVariantOutputs needs an AlphaGenome model made with the embeddings1bp option');
  const probs = out.splice_sites_probs!;
  const K = model.config.numSpliceSites;
  const sites = sharedSpliceSites(item(probs, 0), item(probs, 1), windows.length, K, model.config.spliceThreshold);
  const positions: TensorData = { dtype: 'int64', dims: [2, 4, K], data: BigInt64Array.from([...sites, ...sites], (p) => BigInt(p)) };
  const junctions = await model.junctionHead(emb, positions, organism);
  const allele = (i: number): AlleleOutputs => ({ contactMaps: item(out.contact_maps!, i), junctionCounts: item(junctions.splice_junctions_pred_counts!, i) });
  return { ref: allele(0), alt: allele(1), spliceSites: sites };
}
