/** What a reference genome offers the jobs, whatever reads it (files and URLs on Node, igv.js's genome in the page). */
export type GenomeKind = 'fasta' | 'bgzip-fasta' | '2bit';

export interface Reference {
  /** What the user named (path, URL or alias) and where it was read from. */
  readonly source: string;
  readonly location: string;
  readonly kind: GenomeKind;
  /** Sequence names in file order. */
  getSequenceNames(): Promise<string[]>;
  /** Length of one sequence, or undefined when the genome has no such sequence. */
  getSequenceSize(chrom: string): Promise<number | undefined>;
  /** Every sequence length (on a remote 2bit this reads every record header: prefer getSequenceSize). */
  getSequenceSizes(): Promise<Map<string, number>>;
  /** Bases [start, end) of `chrom`, padded with N where the range leaves the chromosome. */
  getSequence(chrom: string, start: number, end: number): Promise<string>;
}
