/**
 * Leiden community detection (Traag, Waltman & van Eck, Sci. Rep. 9:5233, 2019) maximising
 * modularity on a weighted undirected graph, as TF-MoDISco-lite clusters with leidenalg's
 * `ModularityVertexPartition`: several seeded runs, each iterated until a pass improves nothing
 * (`n_iterations = -1`), the partition of highest modularity kept; communities numbered by size,
 * largest first.
 *
 * One pass: fast local moving (a queue of nodes, each moved to the neighbouring or empty community of
 * largest modularity gain, its neighbours outside that community queued again); refinement (inside
 * each community, starting from singletons, well-connected singleton nodes join well-connected
 * sub-communities chosen at random with probability ∝ exp(Δ/θ) among non-negative gains, θ = 0.01);
 * aggregation of the refined partition, the unrefined one as the aggregate's starting partition;
 * repeated until local moving leaves every node alone.
 *
 * No npm package implements this faithfully: graphology offers Louvain only, and `ngraph.leiden`
 * (0.2.0, a single release) refines greedily without the well-connectedness conditions and restarts
 * each level from singletons. The graph is a symmetric CSR matrix of non-negative weights (the
 * diagonal holds self-loops), A in Q = (1/2m) Σ_ij (A_ij − k_i k_j / 2m) δ(c_i, c_j).
 */
import type { Csr } from './density.js';
import { seededRandom } from './rng.js';

interface Graph {
  n: number;
  indptr: Int32Array;
  indices: Int32Array;
  weights: Float64Array;
  /** Weighted degree, self-loop included. */
  degree: Float64Array;
  /** Σ degree (2m). */
  total: number;
}

function graphOf(m: Csr): Graph {
  const degree = new Float64Array(m.n);
  let total = 0;
  for (let i = 0; i < m.n; i += 1) {
    let s = 0;
    for (let t = m.indptr[i]!; t < m.indptr[i + 1]!; t += 1) s += m.data[t]!;
    degree[i] = s;
    total += s;
  }
  return { n: m.n, indptr: m.indptr, indices: m.indices, weights: m.data, degree, total };
}

/** Modularity of a membership. */
export function modularity(m: Csr, membership: ArrayLike<number>): number {
  const g = graphOf(m);
  if (g.total === 0) return 0;
  let communities = 0;
  for (let i = 0; i < g.n; i += 1) communities = Math.max(communities, membership[i]! + 1);
  const internal = new Float64Array(communities);
  const tot = new Float64Array(communities);
  for (let i = 0; i < g.n; i += 1) {
    const c = membership[i]!;
    tot[c]! += g.degree[i]!;
    for (let t = g.indptr[i]!; t < g.indptr[i + 1]!; t += 1) if (membership[g.indices[t]!] === c) internal[c]! += g.weights[t]!;
  }
  let q = 0;
  for (let c = 0; c < communities; c += 1) q += internal[c]! / g.total - (tot[c]! / g.total) ** 2;
  return q;
}

function shuffled(n: number, random: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

/** Fast local moving; `membership` is updated in place (community ids < n). Returns whether any node moved. */
function moveNodes(g: Graph, membership: Int32Array, random: () => number): boolean {
  const n = g.n;
  const tot = new Float64Array(n);
  const size = new Int32Array(n);
  for (let i = 0; i < n; i += 1) {
    tot[membership[i]!]! += g.degree[i]!;
    size[membership[i]!]! += 1;
  }
  const empty: number[] = [];
  for (let c = n - 1; c >= 0; c -= 1) if (size[c] === 0) empty.push(c);
  const queue = new Int32Array(n);
  const queued = new Uint8Array(n);
  let head = 0;
  let count = 0;
  for (const v of shuffled(n, random)) {
    queue[(head + count) % n] = v;
    count += 1;
    queued[v] = 1;
  }
  const weightTo = new Float64Array(n);
  const mark = new Int32Array(n);
  const touched: number[] = [];
  let moved = false;
  while (count > 0) {
    const v = queue[head]!;
    head = (head + 1) % n;
    count -= 1;
    queued[v] = 0;
    const from = membership[v]!;
    const kv = g.degree[v]!;
    for (let t = g.indptr[v]!; t < g.indptr[v + 1]!; t += 1) {
      const u = g.indices[t]!;
      if (u === v) continue;
      const c = membership[u]!;
      if (mark[c] !== v + 1) {
        mark[c] = v + 1;
        touched.push(c);
      }
      weightTo[c]! += g.weights[t]!;
    }
    // Gains relative to v alone: w(v, C) − k_v · K_C / 2m, with v taken out of its own community.
    const totFrom = tot[from]! - kv;
    const stay = weightTo[from]! - (kv * totFrom) / g.total;
    let best = from;
    let bestGain = stay;
    for (const c of touched) {
      if (c === from) continue;
      const gain = weightTo[c]! - (kv * tot[c]!) / g.total;
      if (gain > bestGain) {
        bestGain = gain;
        best = c;
      }
    }
    // The empty community (gain 0), when v is not alone already.
    if (size[from]! > 1 && 0 > bestGain && empty.length > 0) {
      best = empty[empty.length - 1]!;
      bestGain = 0;
    }
    for (const c of touched) {
      weightTo[c] = 0;
      mark[c] = 0;
    }
    touched.length = 0;
    if (best !== from) {
      if (best === empty[empty.length - 1]) empty.pop();
      tot[from] = totFrom;
      size[from]! -= 1;
      if (size[from] === 0) empty.push(from);
      tot[best]! += kv;
      size[best]! += 1;
      membership[v] = best;
      moved = true;
      for (let t = g.indptr[v]!; t < g.indptr[v + 1]!; t += 1) {
        const u = g.indices[t]!;
        if (u !== v && membership[u] !== best && !queued[u]) {
          queue[(head + count) % n] = u;
          count += 1;
          queued[u] = 1;
        }
      }
    }
  }
  return moved;
}

/** Leiden refinement of `membership` inside each of its communities; returns the refined membership. */
function refine(g: Graph, membership: Int32Array, random: () => number, theta = 0.01): Int32Array {
  const n = g.n;
  const refined = Int32Array.from({ length: n }, (_, i) => i);
  const totC = new Float64Array(n); // degree of each community of the unrefined partition
  for (let i = 0; i < n; i += 1) totC[membership[i]!]! += g.degree[i]!;
  const totR = Float64Array.from(g.degree); // degree of each refined community
  const sizeR = new Int32Array(n).fill(1);
  // Weight from each refined community to the rest of its unrefined community.
  const external = new Float64Array(n);
  for (let v = 0; v < n; v += 1) {
    for (let t = g.indptr[v]!; t < g.indptr[v + 1]!; t += 1) {
      const u = g.indices[t]!;
      if (u !== v && membership[u] === membership[v]) external[v]! += g.weights[t]!;
    }
  }
  const weightTo = new Float64Array(n);
  const mark = new Int32Array(n);
  const touched: number[] = [];
  for (const v of shuffled(n, random)) {
    if (sizeR[refined[v]!] !== 1) continue; // only singletons move
    const S = membership[v]!;
    const kv = g.degree[v]!;
    // v must be well connected to its community.
    if (external[v]! < (kv * (totC[S]! - kv)) / g.total) continue;
    for (let t = g.indptr[v]!; t < g.indptr[v + 1]!; t += 1) {
      const u = g.indices[t]!;
      if (u === v || membership[u] !== S) continue;
      const c = refined[u]!;
      if (mark[c] !== v + 1) {
        mark[c] = v + 1;
        touched.push(c);
      }
      weightTo[c]! += g.weights[t]!;
    }
    const candidates: number[] = [];
    const gains: number[] = [];
    for (const c of touched) {
      if (c === refined[v]) continue;
      // Only well-connected sub-communities are targets.
      if (external[c]! < (totR[c]! * (totC[S]! - totR[c]!)) / g.total) continue;
      const gain = (weightTo[c]! - (kv * totR[c]!) / g.total) / (g.total / 2);
      if (gain >= 0) {
        candidates.push(c);
        gains.push(gain);
      }
    }
    if (candidates.length > 0) {
      // Staying alone is a candidate of gain 0.
      const top = Math.max(0, ...gains);
      const weights = gains.map((x) => Math.exp((x - top) / theta));
      const stayWeight = Math.exp(-top / theta);
      let r = random() * (weights.reduce((a, b) => a + b, 0) + stayWeight);
      let chosen = -1;
      for (let i = 0; i < candidates.length; i += 1) {
        r -= weights[i]!;
        if (r < 0) {
          chosen = candidates[i]!;
          break;
        }
      }
      if (chosen >= 0) {
        const old = refined[v]!;
        external[chosen] = external[chosen]! + external[old]! - 2 * weightTo[chosen]!;
        totR[chosen]! += kv;
        sizeR[chosen]! += 1;
        totR[old] = 0;
        sizeR[old] = 0;
        external[old] = 0;
        refined[v] = chosen;
      }
    }
    for (const c of touched) {
      weightTo[c] = 0;
      mark[c] = 0;
    }
    touched.length = 0;
  }
  return refined;
}

/** Renumbers ids to 0..k-1 in order of first appearance; returns k. */
function compact(ids: Int32Array): number {
  const map = new Map<number, number>();
  for (let i = 0; i < ids.length; i += 1) {
    let m = map.get(ids[i]!);
    if (m === undefined) map.set(ids[i]!, (m = map.size));
    ids[i] = m;
  }
  return map.size;
}

function aggregate(g: Graph, groups: Int32Array, k: number): Graph {
  // Nodes by group (counting sort), then each group's edges summed per target group.
  const start = new Int32Array(k + 1);
  for (let i = 0; i < g.n; i += 1) start[groups[i]! + 1]! += 1;
  for (let a = 0; a < k; a += 1) start[a + 1]! += start[a]!;
  const fill = start.slice(0, k);
  const members = new Int32Array(g.n);
  for (let i = 0; i < g.n; i += 1) members[fill[groups[i]!]!++] = i;
  const acc = new Float64Array(k);
  const seen = new Uint8Array(k);
  const indptr = new Int32Array(k + 1);
  const outIdx: number[] = [];
  const outW: number[] = [];
  const touched: number[] = [];
  for (let a = 0; a < k; a += 1) {
    for (let t = start[a]!; t < start[a + 1]!; t += 1) {
      const i = members[t]!;
      for (let e = g.indptr[i]!; e < g.indptr[i + 1]!; e += 1) {
        const b = groups[g.indices[e]!]!;
        if (!seen[b]) {
          seen[b] = 1;
          touched.push(b);
        }
        acc[b]! += g.weights[e]!;
      }
    }
    touched.sort((x, y) => x - y);
    for (const b of touched) {
      outIdx.push(b);
      outW.push(acc[b]!);
      acc[b] = 0;
      seen[b] = 0;
    }
    touched.length = 0;
    indptr[a + 1] = outIdx.length;
  }
  const degree = new Float64Array(k);
  for (let i = 0; i < g.n; i += 1) degree[groups[i]!]! += g.degree[i]!;
  return { n: k, indptr, indices: Int32Array.from(outIdx), weights: Float64Array.from(outW), degree, total: g.total };
}

/** One Leiden pass from a starting membership of the original nodes. */
function leidenPass(g0: Graph, start: Int32Array, random: () => number): Int32Array {
  let g = g0;
  // node of the current graph for each original node
  const nodeOf = Int32Array.from({ length: g0.n }, (_, i) => i);
  let membership = Int32Array.from(start);
  compact(membership);
  for (let level = 0; level < 100; level += 1) {
    moveNodes(g, membership, random);
    const communities = compact(membership);
    if (communities === g.n) break;
    let refined = refine(g, membership, random);
    let k = compact(refined);
    // Refinement merged nothing: aggregate by the unrefined partition (a Louvain step) to progress.
    if (k === g.n) {
      refined = Int32Array.from(membership);
      k = communities;
    }
    // Each refined community lies inside one community: the aggregate starts from the unrefined partition.
    const next = new Int32Array(k);
    for (let v = 0; v < g.n; v += 1) next[refined[v]!] = membership[v]!;
    for (let i = 0; i < nodeOf.length; i += 1) nodeOf[i] = refined[nodeOf[i]!]!;
    g = aggregate(g, refined, k);
    membership = next;
  }
  return Int32Array.from(nodeOf, (v) => membership[v]!);
}

export interface LeidenOptions {
  /** Runs with different seeds; the best modularity is kept (TF-MoDISco-lite: `n_leiden_runs`). */
  seeds: number;
  /** Passes per run; -1 (default): until a pass improves nothing. */
  iterations?: number;
  /** Seed of the first run (run r uses seed r · 100, as TF-MoDISco-lite seeds leidenalg). */
  firstSeed?: number;
}

/** Community of every node, numbered by size (largest 0; ties by their first node). */
export function leidenCluster(m: Csr, o: LeidenOptions): Int32Array {
  const g = graphOf(m);
  const n = g.n;
  if (n === 0) return new Int32Array(0);
  let best: Int32Array | undefined;
  let bestQ = -Infinity;
  for (let run = 1; run <= Math.max(1, o.seeds); run += 1) {
    const random = seededRandom(((o.firstSeed ?? 0) + run) * 100);
    let membership: Int32Array = Int32Array.from({ length: n }, (_, i) => i);
    let q = modularity(m, membership);
    const passes = o.iterations === undefined || o.iterations < 0 ? 1000 : o.iterations;
    for (let pass = 0; pass < passes; pass += 1) {
      const next = leidenPass(g, membership, random);
      const nq = modularity(m, next);
      if (!(nq > q + 1e-12)) {
        if (nq >= q) membership = next;
        break;
      }
      membership = next;
      q = nq;
    }
    q = modularity(m, membership);
    if (best === undefined || q > bestQ) {
      best = membership;
      bestQ = q;
    }
  }
  // Number by size, largest first.
  const sizes = new Map<number, { size: number; first: number }>();
  best!.forEach((c, i) => {
    const e = sizes.get(c);
    if (e) e.size += 1;
    else sizes.set(c, { size: 1, first: i });
  });
  const order = [...sizes.entries()].sort((a, b) => b[1].size - a[1].size || a[1].first - b[1].first);
  const rank = new Map(order.map(([c], r) => [c, r]));
  return Int32Array.from(best!, (c) => rank.get(c)!);
}
