/**
 * Motif discovery from contribution scores, following TF-MoDISco-lite (Shrikumar et al.; the
 * `modiscolite` rewrite by Jacob Schreiber, version 2.4.0 read): seqlets are called where
 * contributions are unusually large (seqlets.ts), split by sign into two metaclusters, and each
 * metacluster with more than `minMetaclusterSize` seqlets is clustered into patterns (patterns.ts).
 *
 * The stages, one module each: track-set.ts (inputs, seqlets), seqlets.ts (calling), gapped-kmers.ts
 * (coarse similarity), affinity.ts (fine similarity, alignment), density.ts (graph), leiden.ts
 * (clustering), seqlet-set.ts and aggregate.ts (patterns), collapse.ts (merging), subclusters.ts,
 * patterns.ts; results.ts turns patterns into motifs, h5.ts writes `modisco_results.h5`,
 * report.ts the HTML report.
 *
 * Where we differ from tfmodisco-lite, and why:
 *  - Leiden is ours (leiden.ts), seeded by our own generator: on the same graph it reaches the
 *    partitions leidenalg reaches, but not draw for draw, so subpatterns (and, through the
 *    subclusters of `_detect_spurious_merging`, occasionally a pattern's frame or a few seqlets)
 *    can differ. Every other random draw (the Laplace null, the window and seqlet subsamples) is
 *    NumPy's RandomState(1234) reproduced exactly.
 *  - Final patterns are turned to the strand most of their seqlets lie on (`orientByStrand`,
 *    default on; off: tfmodisco-lite's arbitrary orientation).
 *  - A flank of 0 keeps the whole window as a seqlet's core (tfmodisco-lite's `[flank:-flank]`
 *    slices are then empty and no seqlet is called).
 *  - `is_revcomp` is stored as int8 0/1 (h5wasm cannot write h5py's boolean enum).
 *  - Pattern-merge rounds stop when every merge of a round fails to polish (tfmodisco-lite would
 *    retry the same merges forever).
 * On the planted test set (160 sequences) the seqlets, thresholds and the two patterns (seqlets,
 * strands, CWMs) equal tfmodisco-lite's exactly; see the test file for the numbers.
 */
import { seqletsToPatterns, DEFAULT_PATTERN_OPTIONS, type PatternOptions } from './patterns.js';
import { callSeqlets, DEFAULT_SEQLET_OPTIONS, type SeqletCalls, type SeqletOptions } from './seqlets.js';
import type { SeqletSet } from './seqlet-set.js';
import type { TrackSet } from './track-set.js';

export interface DiscoveryOptions extends SeqletOptions, PatternOptions {
  /** A metacluster is clustered only with more seqlets than this (default 100). */
  minMetaclusterSize: number;
  /** Seqlets kept per metacluster, in the order called (`-n/--max_seqlets`; default 20,000). */
  maxSeqletsPerMetacluster: number;
  /** Progress lines (stage names). */
  onProgress?: (message: string) => void;
}

export const DEFAULT_DISCOVERY_OPTIONS: DiscoveryOptions = {
  ...DEFAULT_SEQLET_OPTIONS,
  ...DEFAULT_PATTERN_OPTIONS,
  minMetaclusterSize: 100,
  maxSeqletsPerMetacluster: 20000,
};

export interface DiscoveryResult {
  /** Patterns of positive contribution, most seqlets first; undefined when the metacluster was too small. */
  pos?: SeqletSet[];
  neg?: SeqletSet[];
  seqlets: SeqletCalls;
  /** Seqlets clustered per metacluster (after the cap). */
  clustered: { pos: number; neg: number };
}

export function discoverMotifs(tracks: TrackSet, options: Partial<DiscoveryOptions> = {}): DiscoveryResult {
  const o: DiscoveryOptions = { ...DEFAULT_DISCOVERY_OPTIONS, ...options };
  const log = o.onProgress;
  log?.(`calling seqlets in ${tracks.n} sequences of ${tracks.length} bp`);
  const calls = callSeqlets(tracks, o);
  log?.(`${calls.positive.length} positive and ${calls.negative.length} negative seqlets (threshold ${calls.threshold.toPrecision(4)})`);
  const run = (seqlets: typeof calls.positive, sign: number, name: string) => {
    if (seqlets.length <= o.minMetaclusterSize) return { patterns: undefined, count: 0 };
    const kept = seqlets.slice(0, o.maxSeqletsPerMetacluster);
    return { patterns: seqletsToPatterns(kept, tracks, sign, o, log && ((stage) => log(`${name}: ${stage}`))), count: kept.length };
  };
  const pos = run(calls.positive, 1, 'positive');
  const neg = run(calls.negative, -1, 'negative');
  return { pos: pos.patterns, neg: neg.patterns, seqlets: calls, clustered: { pos: pos.count, neg: neg.count } };
}
