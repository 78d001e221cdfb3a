/**
 * Trunk reuse in the region job: consecutive windows of a region overlap (Enformer's 196,608-bp
 * windows advance by 114,688 bp, Borzoi's 524,288-bp ones by 196,608 bp), and the trunk is local,
 * so each region's windows under each ensemble run (shift, strand) form a stretch whose trunk is
 * computed once, in tiles fixed by the stretch geometry (models/stretch-trunk.ts). A window takes
 * its interior from the stretch and computes only its ends itself, where its values depend on the
 * window: zero padding inside the convolutions, N past a chromosome end as the window reads it, and
 * the N fill a shifted run puts at one end (the margins: `Model.trunkMargin`). Every window's trunk
 * output then equals the per-window computation to float32 rounding.
 *
 * Coordinates: a stretch is the run's own view of bp [first window start, last window end) of the
 * genome. A forward run with shift s sees genome position g at run position g - start + s, so its
 * stretch reads genome [start - s + x] at x; a reverse-complement run reads the stretch reversed
 * (reverse complement of genome [end - s - x - 1]), where window k of n starts at (n - 1 - k)·stride:
 * consecutive reverse windows overlap in these coordinates too, and pass along it backwards.
 */
import { Model, type KnownTrunk } from '../../models/model-core.js';
import type { StretchTrunk } from '../../models/stretch-trunk.js';
import { trunkGrid } from '../../models/architecture.js';
import type { Reference } from '../../genome/reference-type.js';
import type { RegionPlan, WindowGeometry } from '../../genome/regions.js';
import { onlyAcgtn, reverseComplement } from '../../genome/sequence.js';
import type { EnsembleRun } from '../job/ensemble.js';

/** One batch item as the reuse sees it: its window (plan, index among the plan's windows) and run. */
export interface ReuseItem {
  plan: RegionPlan;
  index: number;
  run: EnsembleRun;
}

export class TrunkReuse {
  private readonly stride: number;
  /** Stretches of the plans the current batch touches, on the current model: plan -> run -> stretch. */
  private stretches = new Map<RegionPlan, Map<EnsembleRun, StretchTrunk>>();
  private model: Model | undefined;

  constructor(
    private readonly genome: Reference,
    private readonly geometry: WindowGeometry,
    private readonly runs: EnsembleRun[],
  ) {
    this.stride = geometry.bins * geometry.binSize;
  }

  /** bp at the start and end of every run's window computed by the window itself (the widest over the runs). */
  margins(model: Model): { start: number; end: number } {
    // A shift s > 0 puts s bp of N at a forward window's start, -s at its end; reverse complement swaps the ends.
    const vacated = (run: EnsembleRun, end: boolean) => Math.max(0, end !== run.rc ? -run.shift : run.shift);
    const widest = (end: boolean) => Math.max(...this.runs.map((r) => model.trunkMargin(vacated(r, end))));
    return { start: widest(false), end: widest(true) };
  }

  /**
   * The trunk positions a batch's windows take from their stretches, or undefined when reuse does
   * not apply to this geometry (stride off the trunk grid, margins covering the window).
   */
  known(model: Model, items: ReuseItem[]): KnownTrunk | undefined {
    const { length } = this.geometry;
    const grid = trunkGrid(model.arch.trunkOutputs);
    const { start, end } = this.margins(model);
    if (this.stride % grid !== 0 || length % grid !== 0 || start + end >= length) return undefined;
    if (model !== this.model) {
      this.model = model;
      this.stretches = new Map();
    }
    // Plans come in order: one that no item of this batch names is done (or not begun).
    const plans = new Set(items.map((it) => it.plan));
    for (const p of [...this.stretches.keys()]) if (!plans.has(p)) this.stretches.delete(p);
    // One window per batch: it is assembled in its predecessor's outputs (whose head has run), so
    // the job holds one window's trunk outputs, as the per-window run does, not two.
    const only = items.length === 1 ? this.stretches.get(items[0]!.plan)?.get(items[0]!.run) : undefined;
    return {
      start,
      end: length - end,
      result: only?.recyclable,
      fill: async (outputs) => {
        for (const [item, it] of items.entries()) {
          const n = it.plan.windows.length;
          const at = (k: number) => (it.run.rc ? n - 1 - k : k) * this.stride;
          const interior = (k: number): [number, number] => [at(k) + start, at(k) + length - end];
          await this.stretchOf(model, it).fill(...interior(it.index), { outputs, length, item, at: start }, it.index + 1 < n ? interior(it.index + 1) : undefined);
        }
      },
    };
  }

  private stretchOf(model: Model, it: ReuseItem): StretchTrunk {
    let byRun = this.stretches.get(it.plan);
    if (!byRun) this.stretches.set(it.plan, (byRun = new Map()));
    let stretch = byRun.get(it.run);
    if (!stretch) byRun.set(it.run, (stretch = this.open(model, it.plan, it.run)));
    return stretch;
  }

  /** The stretch of a plan's windows under one run, reading its bases from the genome tile by tile. */
  private open(model: Model, plan: RegionPlan, run: EnsembleRun): StretchTrunk {
    const { length } = this.geometry;
    const size = (plan.windows.length - 1) * this.stride + length;
    const first = plan.windows[0]!;
    const chrom = plan.region.chrom;
    return model.stretchTrunk(size, length, async (a, b) => {
      const seq = run.rc
        ? reverseComplement(onlyAcgtn(await this.genome.getSequence(chrom, first + size - run.shift - b, first + size - run.shift - a)))
        : onlyAcgtn(await this.genome.getSequence(chrom, first - run.shift + a, first - run.shift + b));
      return Model.encode([seq]);
    });
  }
}
