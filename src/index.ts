// The library: each job's function with its typed options, then the run core a new job builds on,
// then the models, the engine, the readers and writers they use (docs/library.md).

// Jobs: predict (regions of a genome, in memory or as the resumable genome job; FASTA records).
export { predictRegions, type RegionJobOptions, type RegionJobResult, type RegionResult } from './tasks/predict/regions.js';
export { predictRegionsOn } from './tasks/predict/regions-in-memory.js';
export { runGenomeJob, type GenomeJobOptions, type GenomeJobResult } from './tasks/predict/genome-job.js';
export { mergeGenomeShards, shardPath, type MergeResult } from './tasks/predict/genome-shards.js';
export { shardWindows } from './tasks/predict/region-job.js';
export { writeRegionOutputs } from './tasks/predict/region-writers.js';
export { outputKind, type RegionOutputKind } from './tasks/predict/output-kind.js';
export { predictFasta, predictRecords, predictRecordStream, PredictInputError, type FastaPrediction, type PredictFastaOptions } from './tasks/predict/fasta.js';
export { streamFastaPrediction, type StreamFastaOptions, type StreamedFasta } from './tasks/predict/fasta-stream.js';
export { writeAttentionFile, checkAttentionSize, AttentionSizeError, DEFAULT_ATTENTION_MAX_BYTES, type AttentionRequest } from './tasks/predict/attention-file.js';
export { plotAttention, heatmapRows, AttentionPlotError } from './tasks/predict/attention-plot.js';
// Jobs: variants.
export { scoreVcf, parseShard, shardRange, type ScoreVcfOptions, type ScoreVcfResult, type VariantModels } from './tasks/variants/score-vcf.js';
export { AlphaGenomeVariantModel } from './tasks/variants/alphagenome-variants.js';
export { scoreContactMapChunk, scoreJunctionChunk } from './tasks/variants/scorers/whole-model-set.js';
export { ContactMapScorer, type ContactMapWindow } from './tasks/variants/scorers/contact-map.js';
export { SpliceJunctionScorer, junctionScores, variantGenes, type Junction, type JunctionRow } from './tasks/variants/scorers/splice-junction.js';
export { predictVariantOutputs, sharedSpliceSites, type VariantOutputs } from './models/alphagenome/variant-outputs.js';
export { variantStats, VariantScorer, STATS, type Stats, type PreparedRecord, type ScorerOptions } from './tasks/variants/scorer.js';
export { variantWindows, borzoiVariantWindows, altWindow, windowStart, type Anchor } from './tasks/variants/windows.js';
export { geneRows, VariantGeneScoring, type GeneRow, type GeneScoreOptions } from './tasks/variants/gene-scores.js';
export { parseScorer, parseScorers } from './tasks/variants/scorers/spec.js';
export { scoreTrackChunk, scoreGeneChunk, scorerRows, type TrackScores, type GeneScores } from './tasks/variants/scorers/scorer-set.js';
export { CenterMaskScorer, centerMaskBins, CENTER_MASK_WIDTHS } from './tasks/variants/scorers/center-mask.js';
export { GeneMaskLFCScorer, GeneMaskActiveScorer, geneMasks } from './tasks/variants/scorers/gene-mask.js';
export { alignAlternate } from './tasks/variants/scorers/indel-alignment.js';
export { aggregate, AGGREGATIONS, type Aggregation } from './tasks/variants/scorers/aggregation.js';
export { ScorerError, type Scorer, type TrackScorer, type GeneScorer, type GeneMask, type OutputWindow, type ScoredVariant, type WholeModelScorer } from './tasks/variants/scorers/types.js';
// Jobs: genes.
export { predictGenes, type PredictGenesOptions, type PredictGenesResult, type GenePrediction } from './tasks/genes/predict-genes.js';
export { geneGradients, gradientUntransform, geneWindowStart, DEFAULT_GRADIENT_TRANSFORM, type GradientTransform, type GeneGradientOptions, type GeneGradient } from './tasks/genes/gene-gradients.js';
export { attributeGenes, geneNpzPaths, type GeneJobOptions, type GeneJobResult } from './tasks/genes/gene-job.js';
export { untransform, untransformParams, strandColumns, trackStrand, exonBins, geneColumnStats, percentile25, parseGeneStats, GENE_STATS, UNTRANSFORM_MODES, GeneInputError, type GeneStat, type UntransformMode, type ExonBinRule, type StrandColumns } from './tasks/genes/gene-stats.js';
// Jobs: attribution.
export { attributeToFiles, integratedGradientsToFiles, ismToFiles, shuffleIsmToFiles, type AttributionInput, type AttributionFilesOptions, type AttributionFiles } from './tasks/attribution/to-files.js';
export { attributeBed, type BedAttributionOptions } from './tasks/attribution/bed-job.js';
export { integratedGradientsRecords, perBaseRecords } from './tasks/attribution/attribute.js';
export { shuffleIsmRecords } from './tasks/attribution/shuffle-ism.js';
export { dinucShuffle, monoShuffle, seededRandom } from './tasks/attribution/shuffle.js';
export { writeNpz } from './formats/npz.js';
export { attributeRecords, contributionScores, type AttributeOptions, type AttributeResult } from './tasks/attribution/attribute.js';
export { ismRecords, substitutionEffects, IsmInputError, type IsmOptions, type IsmResult, type Substitution, type SequenceRecord } from './tasks/attribution/ism.js';
export type { AttributionOptions } from './tasks/attribution/runs.js';
// Jobs: training.
export { finetune, FinetuneError, type FinetuneOptions, type FinetuneResult, type EpochReport } from './tasks/training/finetune.js';
export { finetuneWholeModel } from './tasks/training/finetune-trunk.js';
export { evaluate, evaluationTsv, type EvaluateOptions, type EvaluateResult, type TrackScore } from './tasks/training/evaluate.js';
// Jobs: the model store.
export { convertModel, readWeights, detectFormat, ConvertError, type ConvertOptions, type ConvertResult, type WeightsFormat } from './tasks/model-store/convert-model.js';
export { resolveModel, fetchModel, listCached, cacheRoot, PUBLISHED_MODELS, SOURCES, RegistryError, type PublishedModel, type RegistryOptions, type ResolveOptions } from './tasks/model-store/registry.js';

// The run core: a new job is a plan of batches and a sink.
export { openEnsemble, runBatches, loadedModels, scheduleOf, ModelSchedule, type Ensemble, type EnsembleSpec, type ModelSource, type TableResolver, type Batch, type Item, type RunInput, type BatchLoop } from './tasks/job/run-core.js';
export { modelDirectories, openModels, tableFor } from './tasks/job/model-dirs.js';
export { ensembleRuns, runSequence, accumulate, addForward, JobError, type EnsembleOptions, type EnsembleRun, type Setup } from './tasks/job/ensemble.js';
export { JobDirError, stagingPath, type Fingerprint } from './tasks/job/job-dir.js';
export { fingerprint, modelContent, sha256File } from './tasks/job/fingerprint.js';

// Models and the engine.
export { loadModel, architectureFromConfig, architectureOf, readGammaTable, type LoadOptions } from './models/load.js';
export { Model, LengthError, type Prediction, type PredictOptions, type OneHotBatch, type Track3D, type ModelOptions, type InputGradients, type AttentionMap, type HeadOutput } from './models/model.js';
export { Enformer, parseEnformerConfig, type EnformerConfig } from './models/enformer.js';
export { Borzoi, parseBorzoiConfig, type BorzoiConfig } from './models/borzoi.js';
export { loadAlphaGenome, alphaGenomeConfigOf, isAlphaGenomeConfig } from './models/alphagenome/load.js';
export { AlphaGenomeModel, alphaGenomeOutputShapes, type AlphaGenomeOptions, type AlphaGenomeSink, type Organism } from './models/alphagenome/model.js';
export { AlphaGenomeTracks, type AlphaGenomeResolution, type TrackGroup } from './models/alphagenome/tracks-architecture.js';
export { parseAlphaGenomeConfig, type AlphaGenomeConfig } from './models/alphagenome/config.js';
export { predictAlphaGenomeFasta } from './tasks/predict/alphagenome-fasta.js';
export type { Architecture, FlopCount, TrunkOutput, GammaTable } from './models/architecture.js';
export { ObjectiveError, type Objective } from './models/gradients.js';
export { AttentionSelectionError, parseIndexList, type AttentionMapSpec, type TransformerShape } from './models/attention-maps.js';
export { Engine, type EngineOptions } from './engine/engine.js';
export { Graph } from './engine/graph.js';
export { backward, AutodiffError, type BackwardOptions } from './engine/autodiff.js';

// Genomes, sequences, variants, genes.
export { openGenome, PUBLIC_GENOMES, GenomeError, type Reference } from './genome/reference.js';
export { parseRegion, planRegion, RegionError, type Region, type RegionPlan } from './genome/regions.js';
export { readBed } from './genome/bed.js';
export { oneHot, oneHotInto, SequenceError } from './genome/one-hot.js';
export { readFasta, readFastaRecords, FastaError, type FastaRecord } from './genome/fasta.js';
export { openVcf, alleles, VcfError, type VcfRecord, type VcfReader } from './genome/vcf.js';
export { readGtf, GeneIndex, unionIntervals, GtfError, type Gene, type GtfOptions, type Transcript } from './genome/gtf.js';
export { retryingFetch, HttpReadError, type RetryOptions } from './genome/http-retry.js';

// Weights, formats, plots.
export { SafetensorsFile, writeSafetensors, type TensorInfo } from './weights/safetensors.js';
export { WeightSet, checkWeights, WeightsMismatchError } from './weights/weight-set.js';
export { PickleError } from './weights/pickle.js';
export { readTargets, parseTargets, selectTracks, PUBLISHED_TARGETS, type Track, type TargetsTable } from './formats/targets.js';
export { encodeBigWig, writeBigWig, writeBigWigStream, type BigWigSection, type BigWigLayoutSection, type BigWigValues } from './formats/bigwig.js';
export { TsvScores, formatScore } from './formats/score-tsv.js';
export { openParquetScores, openH5Scores, type ScoreWriter } from './formats/score-writers.js';
export { openGeneParquet, openSedH5, type GeneWriter, type GeneScoreRow } from './formats/gene-score-writers.js';
export { writeGenePredictions, type GenePredictionRow } from './formats/gene-prediction-writers.js';
export { TsvPredictionSink, SafetensorsPredictionSink, type FastaLayout, type FastaSink } from './formats/prediction-stream.js';
export { attentionHeatmapSpec, type AttentionHeatmapInput } from './plots/attention-heatmap.js';
export { logoSpec, type LogoInput } from './plots/logo.js';
export { ismHeatmapSpec, type IsmHeatmapInput } from './plots/ism-heatmap.js';
export { cacheDir } from './cache.js';
