/**
 * Seeded sequence shuffles: the baseline of integrated gradients (`--baseline shuffle`) and the
 * perturbations of shuffle ISM.
 *
 * - `monoShuffle`: a uniform random permutation of the letters (Fisher–Yates): letter counts kept.
 * - `dinucShuffle`: Altschul & Erikson's (1985) dinucleotide shuffle as an Eulerian path: the letters
 *   are vertices, each adjacent pair s[i]s[i+1] a directed edge, and any walk from s[0] that uses every
 *   edge once spells a sequence with exactly the same dinucleotide counts (and the same first and last
 *   letter). A random walk is drawn by the Kandel et al. (1996) construction: every vertex but the last
 *   letter picks a random "last exit" edge; if those edges form a tree into the last letter (checked,
 *   redrawn otherwise), the other edges of each vertex are put in random order before its last exit
 *   and the walk that follows the lists in order is Eulerian, uniform over all such walks.
 *
 * Randomness is a small deterministic generator (mulberry32) seeded per use from the job's `--seed`
 * and the use's coordinates (`seedOf`), so a record's shuffles are the same in every ensemble run, in
 * a resumed job and in the tests' brute-force check.
 */

import { seededRandom } from '../../seeded-random.js';

export { seededRandom };

/** A 32-bit seed mixed from integers (murmur3's finaliser after each part), e.g. (seed, record, window, sample). */
export function seedOf(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** A uniform integer in [0, n). */
const below = (random: () => number, n: number) => Math.floor(random() * n);

function permute<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = below(random, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/** The letters of `s` in a uniform random order. */
export function monoShuffle(s: string, random: () => number): string {
  return permute(Array.from(s), random).join('');
}

/** A uniform random sequence with the dinucleotide counts of `s` (and its first and last letter). */
export function dinucShuffle(s: string, random: () => number): string {
  if (s.length <= 2) return s;
  // Edges out of each letter, in sequence order: edges.get(a) lists the letters that follow a.
  const edges = new Map<string, string[]>();
  for (let i = 0; i + 1 < s.length; i++) {
    const list = edges.get(s[i]!);
    if (list) list.push(s[i + 1]!);
    else edges.set(s[i]!, [s[i + 1]!]);
  }
  const last = s[s.length - 1]!;
  const vertices = [...edges.keys()].filter((v) => v !== last);
  // A random last exit per vertex, redrawn until every vertex reaches the last letter along them.
  let exit = new Map<string, number>();
  for (;;) {
    exit = new Map(vertices.map((v) => [v, below(random, edges.get(v)!.length)]));
    const reaches = (v: string): boolean => {
      const seen = new Set<string>();
      while (v !== last) {
        if (seen.has(v)) return false;
        seen.add(v);
        v = edges.get(v)![exit.get(v)!]!;
      }
      return true;
    };
    if (vertices.every(reaches)) break;
  }
  // Each vertex's other edges in random order, its last exit at the end (the last letter keeps all random).
  const lists = new Map<string, string[]>();
  for (const [v, out] of edges) {
    const e = exit.get(v);
    const rest = e === undefined ? out.slice() : out.filter((_, i) => i !== e);
    permute(rest, random);
    if (e !== undefined) rest.push(out[e]!);
    lists.set(v, rest);
  }
  const used = new Map<string, number>();
  let v = s[0]!;
  const out = [v];
  for (let i = 1; i < s.length; i++) {
    const k = used.get(v) ?? 0;
    used.set(v, k + 1);
    v = lists.get(v)![k]!;
    out.push(v);
  }
  return out.join('');
}

export type ShuffleKind = 'dinuc' | 'mono';

export function shuffleSequence(s: string, kind: ShuffleKind, random: () => number): string {
  return kind === 'dinuc' ? dinucShuffle(s, random) : monoShuffle(s, random);
}
