/**
 * Adam / AdamW over named float32 parameters ("master weights": the optimiser updates these arrays
 * in place, float32, computing each update in float64), with a linear learning-rate warm-up and
 * clipping of the global gradient norm, as Borzoi trains (Adam, warm-up, `global_clipnorm`).
 *
 * Update (Kingma & Ba; decoupled weight decay as Loshchilov & Hutter's AdamW, PyTorch's form):
 *   g ← g · min(1, clip / ‖g‖₂)  over all parameters together
 *   lr_t = lr · min(1, t / warmup)                      (t = 1, 2, …)
 *   p ← p - lr_t · wd · p                               (AdamW only)
 *   m ← β1 m + (1-β1) g,  v ← β2 v + (1-β2) g²
 *   p ← p - lr_t · (m / (1-β1^t)) / (√(v / (1-β2^t)) + ε)
 * m and v are stored as float32. The whole state (step, m, v) is plain arrays, saved in checkpoints, so a resumed run continues
 * bit-identically.
 */

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay (AdamW); 0 = Adam. */
  weightDecay?: number;
  /** Steps of linear warm-up (0: none). */
  warmupSteps?: number;
  /** Clip the global gradient norm to this value (undefined or 0: no clipping). */
  clipNorm?: number;
}

export interface StepReport {
  gradNorm: number;
  lr: number;
}

export class Adam {
  step = 0;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;

  constructor(
    readonly params: Map<string, Float32Array>,
    readonly options: AdamOptions,
  ) {
    this.m = new Map([...params].map(([k, p]) => [k, new Float32Array(p.length)]));
    this.v = new Map([...params].map(([k, p]) => [k, new Float32Array(p.length)]));
  }

  learningRate(step: number): number {
    const w = this.options.warmupSteps ?? 0;
    return this.options.lr * (w > 0 ? Math.min(1, step / w) : 1);
  }

  /** One update from gradients with the parameters' names and sizes. */
  update(grads: Map<string, ArrayLike<number>>): StepReport {
    const { beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0, clipNorm } = this.options;
    let sq = 0;
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (!g || g.length !== p.length) throw new Error(`gradient of '${name}': expected ${p.length} values, got ${g?.length ?? 'none'}`);
      for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    }
    const gradNorm = Math.sqrt(sq);
    if (!Number.isFinite(gradNorm)) throw new Error(`gradient norm is ${gradNorm} at step ${this.step + 1} (diverged; lower --lr)`);
    const factor = clipNorm && gradNorm > clipNorm ? clipNorm / gradNorm : 1;
    this.step++;
    const t = this.step;
    const lr = this.learningRate(t);
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    for (const [name, p] of this.params) {
      const g = grads.get(name)!;
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]! * factor;
        m[i] = beta1 * m[i]! + (1 - beta1) * gi;
        v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
        let pi = p[i]!;
        if (weightDecay) pi -= lr * weightDecay * pi;
        p[i] = pi - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + eps);
      }
    }
    return { gradNorm, lr };
  }
}
