/**
 * The variant job's second model side: AlphaGenome's whole model (`AlphaGenomeModel`, staged and
 * tiled) instead of the per-position runner, for the scorers that read outputs which are not
 * per-position tracks (ContactMap: contact maps; SpliceJunction: junction counts).
 *
 * Per ALT, its ref and alt windows (the job's: the variant's first REF base at ⌊L/2⌋, ALT spliced in,
 * the right flank refilled from the genome, as every scorer gets them) go through
 * `predictVariantOutputs` as one batch of 2, which also reruns the junction head on the splice sites
 * shared by ref and alt (upstream's `_predict_variant`). A multi-allelic record runs its ref once per
 * ALT, as upstream scores one variant at a time; `--batch-size` sets the chunks (resume points) only.
 *
 * One model, forward strand, no shifts: upstream's variant scoring averages nothing, and an ensemble
 * of whole-model outputs (junctions on per-replicate splice sites) would not be one prediction.
 */
import { join } from 'node:path';
import type { ScoreTrack } from '../../formats/score-writers.js';
import { alphaGenomeLengthProblem, ORGANISMS } from '../../models/alphagenome/config.js';
import { alphaGenomeConfigOf, isAlphaGenomeConfig, loadAlphaGenome } from '../../models/alphagenome/load.js';
import type { AlphaGenomeModel, Organism } from '../../models/alphagenome/model.js';
import { predictVariantOutputs, type VariantOutputs } from '../../models/alphagenome/variant-outputs.js';
import { readConfig } from '../../models/load.js';
import { Model } from '../../models/model.js';
import type { EnsembleOptions } from '../job/ensemble.js';
import type { VariantModels } from './score-vcf.js';
import { ScorerError, type WholeModelScorer } from './scorers/types.js';

export class AlphaGenomeVariantModel implements VariantModels {
  readonly ensemble = 1;

  private constructor(
    readonly model: AlphaGenomeModel,
    readonly organism: Organism,
    readonly windowLength: number,
    /** The scored tracks: contact-map tracks (`contact_maps:k`) or the organism's junction tissues (`splice_junctions:t`). */
    readonly tracks: ScoreTrack[],
  ) {}

  get head(): string {
    return `${this.organism} (whole AlphaGenome model)`;
  }

  get trackCount(): number {
    return this.tracks.length;
  }

  /**
   * Checks the options against what a whole-model scorer can run (each problem one line, before any
   * weights are read), then loads the model with its 1-bp embeddings (the junction head's input).
   */
  static async open(opts: EnsembleOptions, scorer: WholeModelScorer): Promise<AlphaGenomeVariantModel> {
    const s = `--scorer ${scorer.name}`;
    if (opts.models.length !== 1) throw new ScorerError(`${s} runs one AlphaGenome model (--model names ${opts.models.length})`);
    const dir = opts.models[0]!;
    const json = await readConfig(join(dir, 'config.json'));
    if (!isAlphaGenomeConfig(json)) {
      throw new ScorerError(`${s} reads the whole AlphaGenome model's outputs; ${join(dir, 'config.json')} is not an AlphaGenome model (model_type ${JSON.stringify(json.model_type ?? json.architectures)})`);
    }
    const refuse = (option: string, why: string) => {
      throw new ScorerError(`${option}: not offered with ${s} (${why})`);
    };
    if (opts.rc) refuse('--rc', 'upstream scores the forward strand once');
    if (opts.shifts?.some((x) => x !== 0)) refuse('--shifts', 'upstream scores the unshifted windows once');
    if (opts.tracks !== undefined) refuse('--tracks', 'every contact-map track or junction tissue is scored');
    if (opts.targets !== undefined) refuse('--targets', 'the tracks are named contact_maps:k and splice_junctions:t');
    if (opts.load?.resolution !== undefined) refuse('--resolution', 'it is for the per-position scorers');
    const config = await alphaGenomeConfigOf(dir);
    const organisms = ORGANISMS.slice(0, config.numOrganisms) as readonly string[];
    const organism = (opts.head ?? 'human') as Organism;
    if (!organisms.includes(organism)) throw new ScorerError(`--head ${opts.head}: an AlphaGenome organism is one of ${organisms.join(', ')}`);
    const L = opts.windowLength ?? config.sequenceLength;
    const problem = alphaGenomeLengthProblem(config, L);
    if (problem) throw new ScorerError(`--window-length ${L}: ${problem}`);
    const tracks =
      scorer.rows === 'variant'
        ? Array.from({ length: config.contactMapTracks }, (_, k) => ({ identifier: `contact_maps:${k}`, description: `contact map track ${k}` }))
        : Array.from({ length: config.junctionTissues[organisms.indexOf(organism)]! }, (_, t) => ({ identifier: `splice_junctions:${t}`, description: `splice junction tissue ${t}` }));
    const { threads, executionProvider, tileLength } = opts.load ?? {};
    const model = await loadAlphaGenome(dir, { threads, executionProvider, tileLength, embeddings1bp: true });
    return new AlphaGenomeVariantModel(model, organism, L, tracks);
  }

  /** Ref and alt outputs of one ALT from its two windows (upper-case ACGTN, `windowLength` each). */
  outputs(ref: string, alt: string): Promise<VariantOutputs> {
    return predictVariantOutputs(this.model, Model.encode([ref, alt]), this.organism);
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}
