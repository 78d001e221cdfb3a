/**
 * `--scorer` specifications. Two spellings of each scorer, case-insensitive, `-` and `_` alike:
 *
 *   AlphaGenome's:  CenterMask(width=2001, aggregation=DIFF_LOG2_SUM)   (width=None: the whole window;
 *                   `aggregation_type=` and a `Scorer` suffix are accepted too), GeneMaskLFC(),
 *                   GeneMaskActive(), GeneMaskSplicing(width=None, requested_output=SPLICE_SITES)
 *                   (both arguments optional; widths None, 101, 1001, 10001), ContactMap(),
 *                   SpliceJunction() (no settings; the whole AlphaGenome model's outputs)
 *   short:          center-mask:2001:diff-log2-sum, center-mask:all:diff-mean, gene-mask-lfc,
 *                   gene-mask-active, gene-mask-splicing[:W], contact-map, splice-junction
 *
 * Widths are AlphaGenome's (501, 2,001, 10,001, 100,001, 200,001 bp) or the whole window.
 */
import { AGGREGATIONS, type Aggregation } from './aggregation.js';
import { CENTER_MASK_WIDTHS, CenterMaskScorer } from './center-mask.js';
import { GeneMaskActiveScorer, GeneMaskLFCScorer } from './gene-mask.js';
import { GeneMaskSplicingScorer, SPLICE_OUTPUTS, SPLICING_WIDTHS, type SpliceOutput } from './gene-mask-splicing.js';
import { ContactMapScorer } from './contact-map.js';
import { SpliceJunctionScorer } from './splice-junction.js';
import { ScorerError, type Scorer } from './types.js';

const norm = (s: string) => s.trim().toUpperCase().replace(/-/g, '_');

const KINDS = 'CenterMask(width=W, aggregation=A), GeneMaskLFC, GeneMaskActive, GeneMaskSplicing(width=W), ContactMap, SpliceJunction';

function width(text: string, spec: string, widths: readonly number[] = CENTER_MASK_WIDTHS): number | undefined {
  const t = norm(text);
  if (t === 'NONE' || t === 'ALL') return undefined;
  const n = Number(t.replace(/_/g, ''));
  if (!widths.includes(n)) {
    throw new ScorerError(`--scorer ${spec}: width ${text.trim()} is not one of AlphaGenome's (${widths.join(', ')}, or None / all for the whole window)`);
  }
  return n;
}

function spliceOutput(text: string | undefined, spec: string): SpliceOutput | undefined {
  if (text === undefined) return undefined;
  const t = norm(text).replace(/^OUTPUTTYPE\./, '').replace(/^OUTPUT_TYPE\./, '');
  if (!(t in SPLICE_OUTPUTS)) throw new ScorerError(`--scorer ${spec}: requested_output ${text.trim()} is not one GeneMaskSplicing reads (${Object.keys(SPLICE_OUTPUTS).join(', ')})`);
  return t as SpliceOutput;
}

function aggregation(text: string | undefined, spec: string): Aggregation {
  const t = norm(text ?? '');
  if (!(AGGREGATIONS as readonly string[]).includes(t)) throw new ScorerError(`--scorer ${spec}: aggregation ${JSON.stringify(text ?? '')} is not one of ${AGGREGATIONS.join(', ')}`);
  return t as Aggregation;
}

/** Name and arguments of `Name(k=v, …)`, `Name` or `name:a:b`. */
function split(spec: string): { kind: string; named: Map<string, string>; positional: string[] } {
  const call = /^\s*([A-Za-z_-]+)\s*(?:\((.*)\))?\s*$/.exec(spec);
  if (call && (call[2] !== undefined || !spec.includes(':'))) {
    const named = new Map<string, string>();
    const positional: string[] = [];
    for (const part of (call[2] ?? '').split(',').map((p) => p.trim()).filter((p) => p !== '')) {
      const eq = part.indexOf('=');
      if (eq < 0) positional.push(part);
      else named.set(norm(part.slice(0, eq)), part.slice(eq + 1).trim());
    }
    return { kind: call[1]!, named, positional };
  }
  const [kind, ...positional] = spec.split(':');
  return { kind: kind!, named: new Map(), positional };
}

/** One scorer from its specification (see the file comment). */
export function parseScorer(spec: string): Scorer {
  const { kind, named, positional } = split(spec);
  const k = norm(kind).replace(/_/g, '').replace(/SCORER$/, '');
  const args = positional.length + named.size;
  if (k === 'CENTERMASK') {
    const w = named.get('WIDTH') ?? positional[0];
    const a = named.get('AGGREGATION') ?? named.get('AGGREGATION_TYPE') ?? positional[1];
    const unknown = [...named.keys()].filter((n) => !['WIDTH', 'AGGREGATION', 'AGGREGATION_TYPE'].includes(n));
    if (unknown.length) throw new ScorerError(`--scorer ${spec}: CenterMask takes width and aggregation (not ${unknown.join(', ').toLowerCase()})`);
    if (w === undefined || a === undefined || args > 2) throw new ScorerError(`--scorer ${spec}: CenterMask needs a width and an aggregation, e.g. CenterMask(width=501, aggregation=DIFF_LOG2_SUM) or center-mask:501:diff-log2-sum`);
    return new CenterMaskScorer(width(w, spec), aggregation(a, spec));
  }
  if (k === 'GENEMASKLFC' || k === 'GENEMASKACTIVE') {
    if (args > 0) throw new ScorerError(`--scorer ${spec}: ${k === 'GENEMASKLFC' ? 'GeneMaskLFC' : 'GeneMaskActive'} takes no arguments (its genes come from --gtf)`);
    return k === 'GENEMASKLFC' ? new GeneMaskLFCScorer() : new GeneMaskActiveScorer();
  }
  if (k === 'GENEMASKSPLICING') {
    const unknown = [...named.keys()].filter((n) => !['WIDTH', 'REQUESTED_OUTPUT'].includes(n));
    if (unknown.length || positional.length > 1) throw new ScorerError(`--scorer ${spec}: GeneMaskSplicing takes width and requested_output (e.g. GeneMaskSplicing(width=None) or gene-mask-splicing:10001)`);
    const w = named.get('WIDTH') ?? positional[0];
    return new GeneMaskSplicingScorer(w === undefined ? undefined : width(w, spec, SPLICING_WIDTHS), spliceOutput(named.get('REQUESTED_OUTPUT'), spec));
  }
  if (k === 'SPLICEJUNCTION' || k === 'CONTACTMAP') {
    const name = k === 'CONTACTMAP' ? 'ContactMap' : 'SpliceJunction';
    if (args > 0) throw new ScorerError(`--scorer ${spec}: ${name} takes no arguments${k === 'SPLICEJUNCTION' ? ' (its genes come from --gtf)' : ''}`);
    return k === 'CONTACTMAP' ? new ContactMapScorer() : new SpliceJunctionScorer();
  }
  if (['POLYADENYLATION', 'PAQTL'].includes(k)) {
    throw new ScorerError(`--scorer ${spec}: AlphaGenome's polyadenylation scorer needs its PAS annotation and is not implemented`);
  }
  throw new ScorerError(`--scorer ${spec}: unknown scorer (${KINDS})`);
}

/** Every scorer of a list of specifications, duplicates (same canonical name) dropped, in order. */
export function parseScorers(specs: readonly string[]): Scorer[] {
  const seen = new Map<string, Scorer>();
  for (const s of specs) {
    const scorer = parseScorer(s);
    if (!seen.has(scorer.name)) seen.set(scorer.name, scorer);
  }
  return [...seen.values()];
}
