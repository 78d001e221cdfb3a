/**
 * A model made for the planted-motif test (issue 21): borzoi-small's architecture with weights set so
 * that its first layer detects two known motifs and its outputs count them. Every other path is the
 * identity or zero, so gradient × input of "sum of track 0 over all bins" puts the detectors'
 * log-odds on the planted bases and nearly nothing elsewhere — what a trained model does to the
 * motifs it uses, made exact.
 *
 * Channel 0 of the stem conv scores motif A on the forward strand, channel 1 motif B, as a PWM
 * log-odds scan (log2 p / 0.25) with a bias that puts a site two mismatches from the consensus below
 * zero. Each later conv block (BN → GELU → conv) is BN = identity, GELU (≈ x for a matched site,
 * ≈ 0 for the very negative background), conv = identity on channels 0 and 1 (centre tap); the
 * max-pools keep a site's peak. Residual paths that add to the main path (the U-Net skips, the
 * transformer's attention and MLP outputs) are zero; the decoder's blocks pass channels 0 and 1
 * on. Track 0 of the human head reads channel 0 + channel 1, track 1 channel 0, track 2 channel 1.
 *
 * Channel 2 is the background a trained model has everywhere: seeded random stem weights in
 * [-0.5, 0.5] with a bias that keeps it positive (GELU ≈ identity there), read by track 0 at 0.2.
 * Without it every base off a site would have a gradient of exactly zero, and TF-MoDISco's null
 * (a Laplace fit to the window sums) has nothing to fit.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../weights/safetensors.js';
import { fixturePath } from './fixtures.js';
import type { Motif } from '../motifs/motif.js';
import { formatMeme } from '../motifs/meme-format.js';
import { rng, writeFastaFai } from './genome-files.js';

/** Two non-palindromic 9-mers (neither is close to the other or to its reverse complement). */
export const PLANTED_CONSENSUS = { A: 'AGGTCAAGG', B: 'CCAATCAGC' } as const;

const CONSENSUS_P = 0.85;
/** The background channel. */
const BACKGROUND = 2;

/** The planted motif as a PWM: the consensus base at 0.85, the others at 0.05. */
export function plantedMotif(name: keyof typeof PLANTED_CONSENSUS): Motif {
  const seq = PLANTED_CONSENSUS[name];
  const probabilities = new Float64Array(seq.length * 4);
  for (let i = 0; i < seq.length; i++) for (let b = 0; b < 4; b++) probabilities[i * 4 + b] = 'ACGT'[b] === seq[i] ? CONSENSUS_P : (1 - CONSENSUS_P) / 3;
  return { id: `planted_${name}`, altName: seq, probabilities, length: seq.length, sites: 100 };
}

/** Writes the model directory (config.json + weights.safetensors) into `dir`; returns it. */
export async function writePlantedMotifModel(dir: string): Promise<string> {
  const source = await SafetensorsFile.open(fixturePath('borzoi-small', 'weights.safetensors'));
  const config = JSON.parse(await readFile(fixturePath('borzoi-small', 'config.json'), 'utf8'));
  // Every bin of the window is output (16 off each end), so sites anywhere but the edges count.
  await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, return_center_bins_only: false }, null, 1));
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of source.tensors) {
    const data = new Float32Array(info.shape.reduce((a, b) => a * b, 1));
    const shape = info.shape;
    if (/\.norm\.(weight|running_var)$/.test(name)) data.fill(1);
    else if (/\.norm\.running_mean$|\.norm\.bias$/.test(name)) data.fill(0);
    else if (/^transformer\.\d+\.\d+\.fn\.0\.weight$/.test(name)) data.fill(1); // LayerNorm scales (their branch's output is zero anyway)
    else if (name === 'conv_dna.conv_layer.weight') stemDetectors(data, shape);
    else if (name === 'conv_dna.conv_layer.bias') stemBias(data);
    else if (/^(res_tower\.\d+|unet1\.1|upsampling_unet[01]\.0|final_joined_convs\.0)\.conv_layer\.weight$/.test(name)) passChannels(data, shape);
    else if (/^separable[01]\.conv_layer\.[01]\.weight$/.test(name)) passChannels(data, shape);
    else if (name === 'human_head.weight') {
      // [tracks, joined, 1]: track 0 = ch0 + ch1, track 1 = ch0, track 2 = ch1.
      const joined = shape[1]!;
      data[0 * joined + 0] = 1;
      data[0 * joined + 1] = 1;
      data[1 * joined + 0] = 1;
      data[2 * joined + 1] = 1;
      data[0 * joined + BACKGROUND] = 0.2;
    }
    // Everything else (biases, horizontal skips, attention and MLP weights, the mouse head) stays zero.
    tensors.push({ name, dtype: 'F32', shape, data });
  }
  await writeSafetensors(join(dir, 'weights.safetensors'), tensors);
  return dir;
}

/** [out, 4, 15]: channel 0 = motif A's log-odds, channel 1 = motif B's, centred in the kernel. */
function stemDetectors(data: Float32Array, [out, , k]: number[]): void {
  void out;
  (['A', 'B'] as const).forEach((name, ch) => {
    const m = plantedMotif(name);
    const offset = Math.floor((k! - m.length) / 2);
    for (let i = 0; i < m.length; i++) for (let b = 0; b < 4; b++) data[(ch * 4 + b) * k! + offset + i] = Math.log2(m.probabilities[i * 4 + b]! / 0.25);
  });
  let seed = 12345;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let j = 0; j < 4 * k!; j++) data[BACKGROUND * 4 * k! + j] = next() - 0.5;
}

/** A consensus site scores 9·log2(0.85/0.25) ≈ 15.9; one mismatch costs ≈ 4.1. The bias leaves a site with one mismatch above zero and two below. */
function stemBias(data: Float32Array): void {
  const best = PLANTED_CONSENSUS.A.length * Math.log2(CONSENSUS_P / 0.25);
  data[0] = -(best - 6);
  data[1] = -(best - 6);
  data[BACKGROUND] = 4;
}

/** Conv weights [out, in (or 1 for depthwise), k]: the centre tap passes channel c to channel c for the two motif channels and the background. */
function passChannels(data: Float32Array, shape: number[]): void {
  const [, inCh, k] = shape as [number, number, number];
  const centre = Math.floor(k / 2);
  for (const c of [0, 1, BACKGROUND]) data[(c * inCh + (inCh === 1 ? 0 : c)) * k + centre] = 1;
}

const WINDOW = 8192;
const RECORDS = 24;
/** Sites go in the central PLANTED_CENTRE bp of each window: discovery reads only those (`--window`). */
export const PLANTED_CENTRE = 1024;

/** A site drawn from the motif's PWM (so seqlets vary as real sites do). */
function sample(m: Motif, r: () => number): string {
  let s = '';
  for (let i = 0; i < m.length; i++) {
    let u = r();
    let b = 0;
    while (b < 3 && u >= m.probabilities[i * 4 + b]!) u -= m.probabilities[i * 4 + b++]!;
    s += 'ACGT'[b];
  }
  return s;
}

/** Decoys: each planted PWM with its columns shuffled, and random PWMs of the same width. */
function decoys(r: () => number): Motif[] {
  const out: Motif[] = [];
  for (const name of ['A', 'B'] as const) {
    const m = plantedMotif(name);
    const order = Array.from({ length: m.length }, (_, i) => i).sort(() => r() - 0.5);
    const p = new Float64Array(m.probabilities.length);
    order.forEach((from, to) => p.set(m.probabilities.subarray(from * 4, from * 4 + 4), to * 4));
    out.push({ id: `decoy_shuffled_${name}`, probabilities: p, length: m.length, sites: 100 });
  }
  for (let k = 0; k < 8; k++) {
    const p = new Float64Array(9 * 4);
    for (let i = 0; i < 9; i++) {
      const w = Array.from({ length: 4 }, () => r() ** 3);
      const sum = w.reduce((a, b) => a + b, 0);
      w.forEach((v, b) => (p[i * 4 + b] = v / sum));
    }
    out.push({ id: `decoy_random_${k}`, probabilities: p, length: 9, sites: 100 });
  }
  return out;
}

/**
 * The planted-motif example in `dir`: `model/` (writePlantedMotifModel), `genome.fa` (+ .fai): one
 * chromosome of 24 random 8,192-bp windows, each with 1–2 sites of each motif (drawn from its PWM,
 * forward strand, ≥ 100 bp apart) in its central 1,024 bp; `sites.bed`: one region at each window's
 * centre; `db.meme`: the two planted PWMs and ten decoys. Seeded: the same files every time.
 */
export async function writePlantedMotifExample(dir: string): Promise<void> {
  await mkdir(join(dir, 'model'), { recursive: true });
  await writePlantedMotifModel(join(dir, 'model'));
  const r = rng(21);
  const motifs = [plantedMotif('A'), plantedMotif('B')];
  let chrom = '';
  const bed: string[] = [];
  for (let w = 0; w < RECORDS; w++) {
    const seq = Array.from({ length: WINDOW }, () => 'ACGT'[Math.floor(r() * 4)]!);
    const taken: number[] = [];
    for (const m of motifs) {
      const n = 1 + Math.floor(r() * 2);
      for (let k = 0; k < n; k++) {
        let at: number;
        do at = (WINDOW - PLANTED_CENTRE) / 2 + 20 + Math.floor(r() * (PLANTED_CENTRE - 60));
        while (taken.some((t) => Math.abs(t - at) < 100));
        taken.push(at);
        const site = sample(m, r);
        for (let i = 0; i < site.length; i++) seq[at + i] = site[i]!;
      }
    }
    chrom += seq.join('');
    bed.push(`chrP\t${w * WINDOW + WINDOW / 2 - 50}\t${w * WINDOW + WINDOW / 2 + 50}`);
  }
  writeFastaFai(join(dir, 'genome.fa'), new Map([['chrP', chrom]]));
  await writeFile(join(dir, 'sites.bed'), bed.join('\n') + '\n');
  await writeFile(join(dir, 'db.meme'), formatMeme([...motifs, ...decoys(rng(5))]));
}
