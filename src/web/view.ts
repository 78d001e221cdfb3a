/**
 * The igv.js view: a reference genome (picked files or an indexed URL) and predicted tracks shown as
 * in-memory wig tracks. It also reads window sequences from the genome igv.js holds, so predictions
 * use exactly the bases on screen.
 */
import igv from 'igv';
import type { Browser } from 'igv';
import type { Reference } from '../genome/reference-type.js';
import { onlyAcgtn } from '../genome/sequence.js';

/** igv.js genome internals used here (not in its typings). */
interface IgvGenome {
  getChromosomeName(name: string): string;
  getChromosome(name: string): { bpLength: number } | undefined;
  loadChromosome?(name: string): Promise<{ bpLength: number } | undefined>;
  getSequence(chr: string, start: number, end: number): Promise<string | undefined>;
  chromosomeNames: string[];
}

export class GenomeError extends Error {}

export type GenomeSource = { kind: 'files'; files: File[] } | { kind: 'url'; url: string };

export interface WigTrack {
  name: string;
  chr: string;
  /** 0-based start of the first bin. */
  start: number;
  binSize: number;
  values: ArrayLike<number>;
  color: string;
  /** Tracks of one group share their autoscaled range (a variant's ref and alt). */
  scaleGroup?: string;
}

/** The igv.js reference config of picked files (FASTA with or without .fai, or .2bit) or a URL. */
function referenceConfig(source: GenomeSource): Record<string, unknown> {
  if (source.kind === 'url') {
    const url = source.url.trim();
    if (/\.2bit$/i.test(url)) return { id: 'genome', name: url, twoBitURL: url };
    return { id: 'genome', name: url, fastaURL: url, indexURL: `${url}.fai` };
  }
  const twoBit = source.files.find((f) => /\.2bit$/i.test(f.name));
  if (twoBit) return { id: 'genome', name: twoBit.name, twoBitURL: twoBit };
  const fai = source.files.find((f) => /\.fai$/i.test(f.name));
  const fasta = source.files.find((f) => f !== fai && /\.(fa|fasta|fna|fas)$/i.test(f.name)) ?? source.files.find((f) => f !== fai);
  if (!fasta) throw new GenomeError('pick a FASTA file (with its .fai index if it has one) or a .2bit file');
  if (/\.gz$/i.test(fasta.name)) throw new GenomeError(`${fasta.name}: gzip FASTA cannot be read in the page; pick the plain FASTA (or a .2bit)`);
  return fai ? { id: 'genome', name: fasta.name, fastaURL: fasta, indexURL: fai } : { id: 'genome', name: fasta.name, fastaURL: fasta, indexed: false };
}

export class GenomeView {
  private browser: Browser | undefined;
  private shown: string[] = [];
  private clickHandler: ((chr: string, position: number) => void) | undefined;

  constructor(private readonly container: HTMLElement) {}

  get ready(): boolean {
    return this.browser !== undefined;
  }

  async open(source: GenomeSource): Promise<string> {
    const reference = referenceConfig(source);
    try {
      if (!this.browser) {
        // No default genome list: igv.js would fetch it from igv.org (offline: console errors, a delay).
        this.browser = await igv.createBrowser(this.container, { reference: reference as never, showNavigation: true, loadDefaultGenomes: false } as never);
        this.browser.on('trackclick', (_track, _popover, location) => {
          const chr = this.locus()?.chr;
          if (this.clickHandler && chr && typeof location === 'number') {
            this.clickHandler(chr, Math.floor(location) + 1);
            return false;
          }
          return undefined;
        });
      } else {
        this.shown = [];
        await this.browser.loadGenome(reference as never);
      }
    } catch (e) {
      throw new GenomeError(`cannot open genome ${String(reference.name)}: ${(e as Error).message ?? e}`);
    }
    return String(reference.name);
  }

  /** Called with the chromosome and 1-based position of a click on a track. */
  onClick(handler: (chr: string, position: number) => void): void {
    this.clickHandler = handler;
  }

  private genome(): IgvGenome {
    if (!this.browser) throw new GenomeError('open a genome first');
    return (this.browser as unknown as { genome: IgvGenome }).genome;
  }

  private locus(): { chr: string; start: number; end: number } | undefined {
    const frames = (this.browser as unknown as { referenceFrameList?: { chr: string; start: number; end: number }[] }).referenceFrameList;
    return frames?.[0];
  }

  /** The genome as the jobs see it: bases padded with N past the chromosome ends, non-ACGTN as N. */
  reference(): Reference {
    const genome = this.genome();
    const size = async (chrom: string) => {
      const name = genome.getChromosomeName(chrom);
      const c = (await genome.loadChromosome?.(name)) ?? genome.getChromosome(name);
      return c?.bpLength;
    };
    return {
      source: 'igv genome',
      location: 'igv genome',
      kind: 'fasta',
      getSequenceNames: async () => genome.chromosomeNames,
      getSequenceSize: size,
      getSequenceSizes: async () => new Map(await Promise.all(genome.chromosomeNames.map(async (n) => [n, (await size(n)) ?? 0] as [string, number]))),
      getSequence: async (chrom, start, end) => {
        const length = await size(chrom);
        if (length === undefined) throw new GenomeError(`the genome has no sequence named ${chrom}`);
        const s = Math.max(0, start);
        const e = Math.min(length, end);
        const inner = e > s ? ((await genome.getSequence(genome.getChromosomeName(chrom), s, e)) ?? '') : '';
        return 'N'.repeat(Math.min(end - start, s - start)) + onlyAcgtn(inner) + 'N'.repeat(Math.max(0, end - Math.max(e, start)));
      },
    };
  }

  /** Replaces the previously shown predicted tracks. */
  async show(tracks: WigTrack[], locus: string): Promise<void> {
    const browser = this.browser;
    if (!browser) throw new GenomeError('open a genome first');
    for (const name of this.shown) browser.removeTrackByName(name);
    this.shown = [];
    browser.search(locus);
    for (const t of tracks) {
      const features = Array.from(t.values, (value, b) => ({ chr: t.chr, start: t.start + b * t.binSize, end: t.start + (b + 1) * t.binSize, value }));
      await browser.loadTrack({ type: 'wig', name: t.name, features, autoscale: true, autoscaleGroup: t.scaleGroup, graphType: 'bar', color: t.color, height: 60 } as never);
      this.shown.push(t.name);
    }
  }
}
