/**
 * The HTML report of a discovery run (one self-contained file, as tfmodisco-lite's `modisco report`
 * gives one page): per pattern its seqlet count and subpatterns, the logo of its contribution weight
 * matrix (trimmed as tfmodisco-lite trims: rows of ≥ 30 % of the largest total |contribution|, ±4
 * rows), the logo of its trimmed probability matrix in bits, and, when a namer is given (e.g. the
 * TomTom-style matcher against a motif database), its best matches. Logos are Vega specs
 * (plots/motif-logo.ts) rendered to inline SVG by the project's renderer.
 */
import { writeFile, rename, rm } from 'node:fs/promises';
import type { Motif } from '../motif.js';
import { matrixLogoSpec } from '../../plots/motif-logo.js';
import { renderSvg } from '../../plots/render.js';
import { contributionSpan, patternMotif, type PatternSummary } from './results.js';

/** One database match of a discovered motif. */
export interface MotifName {
  /** Target motif name (e.g. its MEME id and alt name). */
  name: string;
  pValue?: number;
  eValue?: number;
  qValue?: number;
  /** Strand of the target that matched. */
  strand?: '+' | '-';
}

/** Names a discovered motif: its best matches, best first (the report shows the first `topMatches`). */
export type MotifNamer = (motif: Motif) => Promise<MotifName[]> | MotifName[];

export interface ReportOptions {
  title?: string;
  /** Lines of run facts shown above the table (seqlets called, thresholds, …). */
  facts?: string[];
  namer?: MotifNamer;
  topMatches?: number;
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function number(v: number | undefined): string {
  if (v === undefined) return '';
  return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(3);
}

/** The report's HTML. */
export async function reportHtml(patterns: PatternSummary[], o: ReportOptions = {}): Promise<string> {
  const rows: string[] = [];
  for (const p of patterns) {
    const [s, e] = contributionSpan(p.contrib, p.length, 0.3, 4);
    const cwm = await renderSvg(
      matrixLogoSpec({ matrix: p.contrib.subarray(s * 4, e * 4), length: e - s, mode: 'weights', title: `${p.id} CWM`, positions: Array.from({ length: e - s }, (_, i) => s + i) }),
    );
    const motif = patternMotif(p);
    const pwm = await renderSvg(matrixLogoSpec({ matrix: motif.probabilities, length: motif.length, mode: 'bits', title: `${p.id} PWM (trimmed)` }));
    let matches = '';
    if (o.namer) {
      const found = (await o.namer(motif)).slice(0, o.topMatches ?? 3);
      matches = found.length === 0 ? '<em>no match</em>' : `<ol>${found.map((m) => `<li>${escape(m.name)}${m.strand ? ` (${m.strand})` : ''}${m.pValue !== undefined ? ` p=${number(m.pValue)}` : ''}${m.qValue !== undefined ? ` q=${number(m.qValue)}` : ''}</li>`).join('')}</ol>`;
    }
    rows.push(
      `<tr><td class="name">${escape(p.id)}</td><td class="n">${p.nSeqlets}</td><td class="n">${p.subpatterns.join(', ')}</td><td>${cwm}</td><td>${pwm}</td>${o.namer ? `<td>${matches}</td>` : ''}</tr>`,
    );
  }
  const title = o.title ?? 'Motif discovery';
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:middle}th{background:#f4f4f4}td.n{text-align:right}td.name{font-family:monospace}</style>
</head><body>
<h1>${escape(title)}</h1>
${(o.facts ?? []).map((f) => `<p>${escape(f)}</p>`).join('\n')}
${patterns.length === 0 ? '<p><strong>No patterns were found.</strong></p>' : ''}
<table>
<tr><th>pattern</th><th>seqlets</th><th>subpatterns</th><th>contribution weight matrix</th><th>probability matrix</th>${o.namer ? '<th>best matches</th>' : ''}</tr>
${rows.join('\n')}
</table>
</body></html>
`;
}

/** Writes the report to `path` (via `path.partial`). */
export async function writeReport(path: string, patterns: PatternSummary[], o: ReportOptions = {}): Promise<void> {
  const html = await reportHtml(patterns, o);
  const partial = `${path}.partial`;
  try {
    await writeFile(partial, html);
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}
