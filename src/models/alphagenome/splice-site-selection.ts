/**
 * The junction head's splice sites over a whole window, chosen tile by tile: for each of the four
 * splice-site classes (+ donor, + acceptor, − donor, − acceptor: the first four of the five
 * probabilities), the K positions of highest probability among those at or above the threshold,
 * ties to the lower position (ONNX TopK's and torch.topk's order), then listed ascending and padded
 * with -1 — what the port's top-K over the whole window gives. Each tile offers its core; the K best
 * so far are kept with their 1-bp embeddings (when given), so the window's embeddings are never held
 * whole.
 */
import type { AlphaGenomeConfig } from './config.js';

interface Kept {
  values: number[];
  positions: number[];
  rows: Float32Array[];
}

const EMPTY = new Float32Array(0);

export class SpliceSiteSelection {
  private readonly kept: Kept[] = Array.from({ length: 4 }, () => ({ values: [], positions: [], rows: [] }));

  constructor(
    private readonly k: number,
    private readonly threshold: number,
    private readonly embeddingSize: number,
  ) {}

  static of(cfg: AlphaGenomeConfig): SpliceSiteSelection {
    return new SpliceSiteSelection(cfg.numSpliceSites, cfg.spliceThreshold, cfg.embeddings1Dim);
  }

  /**
   * Offers `count` positions starting at absolute position `at`: `probs` [count, 5] and, to keep the
   * chosen sites' rows, `embeddings` [count, E] (views of one batch item's rows).
   */
  offer(at: number, count: number, probs: Float32Array, embeddings?: Float32Array): void {
    const E = this.embeddingSize;
    for (let cls = 0; cls < 4; cls++) {
      const kept = this.kept[cls]!;
      const candidates: { value: number; position: number; row: () => Float32Array }[] = kept.values.map((value, i) => ({ value, position: kept.positions[i]!, row: () => kept.rows[i]! }));
      for (let i = 0; i < count; i++) {
        const value = probs[i * 5 + cls]!;
        if (!(value >= this.threshold)) continue;
        candidates.push({ value, position: at + i, row: () => embeddings?.slice(i * E, (i + 1) * E) ?? EMPTY });
      }
      if (candidates.length === kept.values.length) continue;
      candidates.sort((a, b) => b.value - a.value || a.position - b.position);
      const best = candidates.slice(0, this.k);
      this.kept[cls] = { values: best.map((c) => c.value), positions: best.map((c) => c.position), rows: best.map((c) => c.row()) };
    }
  }

  /** Positions [4, K] (ascending, -1 padded) and their embeddings [4·K, E] in the same order (zeros for -1; empty rows when none were offered). */
  result(): { positions: BigInt64Array; embeddings: Float32Array } {
    const { k, embeddingSize: E } = this;
    const positions = new BigInt64Array(4 * k).fill(-1n);
    const embeddings = new Float32Array(4 * k * E);
    this.kept.forEach((kept, cls) => {
      const order = kept.positions.map((_, i) => i).sort((a, b) => kept.positions[a]! - kept.positions[b]!);
      order.forEach((i, j) => {
        positions[cls * k + j] = BigInt(kept.positions[i]!);
        embeddings.set(kept.rows[i]!, (cls * k + j) * E);
      });
    });
    return { positions, embeddings };
  }
}
