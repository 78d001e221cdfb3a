/**
 * Fuzz targets: every parser of outside bytes, fed mutations of valid seed files. A run passes when
 * each input either parses or fails with an Error carrying a non-empty one-line message that is not
 * a JavaScript bug signal (TypeError, RangeError, ReferenceError), within a time limit; crashes,
 * hangs and runaway memory are findings. Each target writes its input to a file (the parsers read
 * files, as the CLI does) and exercises the parser the way the jobs do.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../weights/safetensors.js';
import { openTorchCheckpoint, readTorchTensor, TorchCheckpointError, torchCheckpointWeights } from '../weights/torch-checkpoint.js';
import { readKerasBorzoi } from '../weights/keras-h5.js';
import { architectureFromConfig } from '../models/load.js';
import { readFasta } from '../genome/fasta.js';
import { openGenome } from '../genome/reference.js';
import { openVcf } from '../genome/vcf.js';
import { parseRegion } from '../genome/regions.js';
import { readBed } from '../genome/bed.js';
import { parseTargets, selectTracks } from '../formats/targets.js';
import { makeZip, P, tensorPickle, torchSaveTensor } from '../test/weights-helpers.js';
import { bgzfBlock, randomGenome, writeFastaFai, writeTwoBit } from '../test/genome-files.js';
import { readFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';
import { hdf5 } from '../formats/hdf5.js';
import { GeneIndex, GtfError, readGtf } from '../genome/gtf.js';
import { maskedCrc32c, readBasenjiExamples, TFRecordError, type DatasetStatistics } from '../formats/tfrecord.js';
import { ProtoWriter } from '../engine/protobuf.js';
import { encodeBigWig } from '../formats/bigwig.js';
import { readTrainingTable, TrackCoverage, TrackCoverageError } from '../formats/track-coverage.js';
import { ConfigError } from '../models/config.js';
import { fromMultiMoleculeConfig, isMultiMoleculeConfig } from '../models/multimolecule-config.js';
import { multimoleculeBorzoiConfig, multimoleculeEnformerConfig, SMALL_BORZOI, SMALL_ENFORMER } from '../test/multimolecule-files.js';

export interface FuzzTarget {
  /** Valid inputs that mutations start from (made in `dir`). */
  seeds(dir: string): Promise<Buffer[]>;
  /** Runs the parser on `input` (written under `dir` as needed). */
  run(input: Buffer, dir: string): Promise<void>;
}

const text = (b: Buffer) => b.toString('latin1');

async function drain<T>(it: AsyncIterable<T>, limit = 100_000): Promise<void> {
  let n = 0;
  for await (const _ of it) if (++n > limit) break;
}

/** A broken reader contract: an error of an unexpected kind or not naming the input, or an invalid result (worker.ts reports it). */
export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new ContractViolation(what);
}

/**
 * Runs a reader under its contract: it returns, or throws one of its typed errors (`kinds`) whose
 * message names `input`; any other error breaks the contract. Undefined when it threw.
 */
async function contract<T>(input: string, kinds: (abstract new (...args: never[]) => Error)[], run: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof ContractViolation) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (!kinds.some((k) => e instanceof k)) throw new ContractViolation(`not a ${kinds.map((k) => k.name).join('/')}: ${e instanceof Error ? e.name : typeof e}: ${message}`);
    if (!message.includes(input)) throw new ContractViolation(`the error does not name ${input}: ${message}`);
    return undefined;
  }
}

/** A TFRecord frame: length, its masked CRC-32C, the data, its masked CRC-32C. */
function tfrecordFrame(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length));
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([head, data, tail]);
}

/** Basenji2 statistics.json of the TFRecord targets' records: 8 bp, 2 bins × 3 tracks. */
const TF_STATS: DatasetStatistics = { seqLength: 8, poolWidth: 4, cropBp: 0, targetLength: 2, numTargets: 3, raw: {} };

/** A Basenji2 `tf.train.Example`: `sequence` one-hot bool bytes [8, 4], `target` float16 [2, 3], plus an int64 and a float feature. */
function basenjiExample(seed: number): Uint8Array {
  const seq = new Uint8Array(TF_STATS.seqLength * 4);
  for (let i = 0; i < TF_STATS.seqLength; i++) if ((i + seed) % 5 !== 4) seq[i * 4 + ((i * 7 + seed) % 4)] = 1;
  const target = Buffer.alloc(TF_STATS.targetLength * TF_STATS.numTargets * 2);
  for (let i = 0; i < target.length / 2; i++) target.writeUInt16LE(0x3c00 + 64 * i + seed, 2 * i); // 1.0, 1.06, …
  const w = new ProtoWriter();
  w.message(1, (features) => {
    features.message(1, (e) => e.string(1, 'sequence').message(2, (f) => f.message(1, (l) => l.bytes(1, seq))));
    features.message(1, (e) => e.string(1, 'target').message(2, (f) => f.message(1, (l) => l.bytes(1, target))));
    features.message(1, (e) => e.string(1, 'index').message(2, (f) => f.message(3, (l) => l.int(1, seed))));
    features.message(1, (e) => e.string(1, 'weight').message(2, (f) => f.message(2, (l) => l.float(1, 0.5))));
  });
  return w.finish();
}

/** Reads every Basenji2 record of a file: each one decodes to [8, 4] + [2, 3] values, indices in order. */
async function readTFRecordFile(path: string): Promise<void> {
  await contract(path, [TFRecordError], async () => {
    let n = 0;
    for await (const ex of readBasenjiExamples(path, TF_STATS)) {
      check(ex.index === n, `record ${ex.index} read as the ${n}th`);
      check(ex.sequence.length === TF_STATS.seqLength * 4 && ex.target.length === TF_STATS.targetLength * TF_STATS.numTargets, `record ${n}: sequence ${ex.sequence.length}, target ${ex.target.length} values`);
      check(ex.sequence.every((v) => v === 0 || v === 1), `record ${n}: a one-hot value other than 0 or 1`);
      if (++n >= 10_000) break;
    }
  });
}

const GTF_TEXT = [
  '#!genome-build GRCh38',
  'chr1\tHAVANA\tgene\t11\t200\t.\t+\t.\tgene_id "G1.1"; gene_name "A";',
  'chr1\tHAVANA\texon\t11\t50\t.\t+\t.\tgene_id "G1.1"; transcript_id "T1"; gene_name "A";',
  'chr1\tHAVANA\texon\t40\t90\t.\t+\t.\tgene_id "G1.1"; transcript_id "T2"; gene_name "A";',
  'chr1\tHAVANA\texon\t150\t200\t.\t+\t.\tgene_id "G1.1"; transcript_id "T1"; gene_name "A";',
  'chr1\tENSEMBL\texon\t120\t130\t.\t-\t.\tgene_id G2; gene_name B;',
  'chr2\tHAVANA\texon\t1\t5\t.\t.\t.\tgene_id "G3"; gene_name "A";',
  '',
].join('\n');

/** A basenji targets table for training on one bigWig (`in.bw`), two tracks with different transforms. */
const TRAINING_TABLE = '\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tdescription\n0\tt0\tin.bw\t384\t32\t1\tsum\tCAGE:a\n1\tt1\tin.bw\t20\t2\t0.5\tmedian\tDNASE:b\n';

const ENFORMER_CONFIG = { dim: 48, depth: 2, heads: 4, output_heads: { human: 12, mouse: 8 }, target_length: 32, attn_dim_key: 8, num_downsamples: 7, dim_divisible_by: 8 };
const SMALL_GENOME = () => randomGenome({ chr1: 300, chr2: 130, chrM: 61 }, 9);

export const TARGETS: Record<string, FuzzTarget> = {
  'safetensors-header': {
    async seeds(dir) {
      const p = join(dir, 'seed.safetensors');
      await writeSafetensors(p, [{ name: 'a.weight', dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(1.5) }, { name: 'b', dtype: 'F32', shape: [4], data: new Float32Array(4) }], { producer: 'fuzz' });
      return [readFileSync(p)];
    },
    async run(input, dir) {
      const p = join(dir, 'in.safetensors');
      writeFileSync(p, input);
      const f = await SafetensorsFile.open(p);
      for (const name of f.tensors.keys()) f.readFloat32(name);
    },
  },
  'torch-zip-pickle': {
    async seeds() {
      const data = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
      const dict = Buffer.concat([P.proto, P.emptyDict, P.str('layer.weight'), tensorPickle('0', [2, 3]), P.setitem, P.stop]);
      return [
        makeZip([{ name: 'archive/data.pkl', data: dict }, { name: 'archive/byteorder', data: Buffer.from('little') }, { name: 'archive/data/0', data }]),
        torchSaveTensor(new Float32Array([1, 2, 3]), [3]),
      ];
    },
    async run(input, dir) {
      const p = join(dir, 'in.bin');
      writeFileSync(p, input);
      openTorchCheckpoint(p);
      try {
        torchCheckpointWeights(p, (n) => n);
      } catch (e) {
        // A bare tensor (torch.save of one tensor, e.g. tf_gammas.pt) is read as one.
        if (!(e instanceof TorchCheckpointError) || !/not a state dict/.test(e.message)) throw e;
        readTorchTensor(p);
      }
    },
  },
  'keras-h5': {
    async seeds(dir) {
      // An HDF5 file with the Keras layout's first datasets (written by h5wasm): the reader gets past
      // the HDF5 structure into the layout checks, where mutations then lead.
      const h5wasm = await hdf5();
      const p = join(dir, 'seed.h5');
      const f = new h5wasm.File(p, 'w');
      // The groups first: HDF5 creates no intermediate groups (the datasets used to fail unseen, the
      // seed holding an empty model_weights, before HDF5 errors became exceptions).
      f.create_group('model_weights');
      f.create_group('model_weights/conv1d');
      f.create_group('model_weights/conv1d/conv1d');
      f.create_dataset({ name: 'model_weights/conv1d/conv1d/kernel:0', data: new Float32Array(15 * 4 * 8), shape: [15, 4, 8], dtype: '<f' });
      f.create_dataset({ name: 'model_weights/conv1d/conv1d/bias:0', data: new Float32Array(8), shape: [8], dtype: '<f' });
      f.close();
      return [readFileSync(p)];
    },
    async run(input, dir) {
      const p = join(dir, 'in.h5');
      writeFileSync(p, input);
      await readKerasBorzoi(p, { config: { flashed: false, depth: 2, heads: 2, attnDimKey: 8 } });
    },
  },
  'config-json': {
    async seeds() {
      return [Buffer.from(JSON.stringify({ model_type: 'enformer', ...ENFORMER_CONFIG })), Buffer.from(JSON.stringify({ model_type: 'borzoi', dim: 64, depth: 2, heads: 2, flashed: true }))];
    },
    async run(input) {
      let json: unknown;
      try {
        json = JSON.parse(text(input));
      } catch {
        return; // readConfig reports JSON syntax errors itself; the architecture parser gets objects only
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
      const arch = architectureFromConfig(json as Record<string, unknown>, 'config.json');
      arch.expectedWeights();
    },
  },
  fasta: {
    async seeds(dir) {
      writeFastaFai(join(dir, 'seed.fa'), SMALL_GENOME(), 50);
      return [readFileSync(join(dir, 'seed.fa')), Buffer.from('>a desc\nACGTN\n\n>b\nac gt\r\nNN\n')];
    },
    async run(input, dir) {
      const p = join(dir, 'in.fa');
      writeFileSync(p, input);
      await drain(readFasta(p));
    },
  },
  'fasta-fai': {
    async seeds(dir) {
      writeFastaFai(join(dir, 'seed.fa'), SMALL_GENOME(), 50);
      return [readFileSync(join(dir, 'seed.fa.fai'))];
    },
    async run(input, dir) {
      // The genome stays valid; the index is the outside bytes.
      writeFastaFai(join(dir, 'g.fa'), SMALL_GENOME(), 50);
      writeFileSync(join(dir, 'g.fa.fai'), input);
      const g = await openGenome(join(dir, 'g.fa'));
      for (const n of (await g.getSequenceNames()).slice(0, 4)) {
        const size = await g.getSequenceSize(n);
        if (size !== undefined && size < 1e6) await g.getSequence(n, -5, Math.min(size + 5, 400));
      }
    },
  },
  'bgzip-gzi': {
    async seeds(dir) {
      writeFastaFai(join(dir, 'seed.fa'), SMALL_GENOME(), 50);
      const plain = readFileSync(join(dir, 'seed.fa'));
      const a = bgzfBlock(plain.subarray(0, 200));
      const gzi = Buffer.alloc(8 + 16);
      gzi.writeBigUInt64LE(1n, 0);
      gzi.writeBigUInt64LE(BigInt(a.length), 8);
      gzi.writeBigUInt64LE(200n, 16);
      return [gzi];
    },
    async run(input, dir) {
      writeFastaFai(join(dir, 'g.fa'), SMALL_GENOME(), 50);
      const plain = readFileSync(join(dir, 'g.fa'));
      writeFileSync(join(dir, 'g.fa.gz'), Buffer.concat([bgzfBlock(plain.subarray(0, 200)), bgzfBlock(plain.subarray(200)), bgzfBlock(Buffer.alloc(0))]));
      writeFileSync(join(dir, 'g.fa.gz.fai'), readFileSync(join(dir, 'g.fa.fai')));
      writeFileSync(join(dir, 'g.fa.gz.gzi'), input);
      const g = await openGenome(join(dir, 'g.fa.gz'));
      await g.getSequence('chr1', 0, 300);
      await g.getSequence('chr2', 10, 120);
    },
  },
  twobit: {
    async seeds(dir) {
      writeTwoBit(join(dir, 'seed.2bit'), new Map([...SMALL_GENOME()].map(([k, v]) => [k, v.slice(0, 40) + 'NNNNN' + v.slice(45).toLowerCase()])));
      return [readFileSync(join(dir, 'seed.2bit'))];
    },
    async run(input, dir) {
      const p = join(dir, 'in.2bit');
      writeFileSync(p, input);
      const g = await openGenome(p);
      for (const n of (await g.getSequenceNames()).slice(0, 4)) {
        const size = await g.getSequenceSize(n);
        if (size !== undefined && size < 1e6) await g.getSequence(n, 0, Math.min(size, 400));
      }
    },
  },
  vcf: {
    async seeds() {
      return [
        Buffer.from('##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1,Type=Integer,Description="d">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr1\t10\trs1\tA\tG,T\t.\tPASS\tDP=3\nchr2\t5\t.\tAC\tA\t50\t.\t.\nchr1\t20\t.\tG\t<DEL>\t.\t.\t.\n'),
      ];
    },
    async run(input, dir) {
      const p = join(dir, 'in.vcf');
      writeFileSync(p, input);
      const v = await openVcf(p);
      await drain(v.records());
    },
  },
  bed: {
    async seeds() {
      return [Buffer.from('track name=x\n# comment\nchr1\t0\t100\tname\t0\t+\nchr2\t5\t9\n')];
    },
    async run(input, dir) {
      const p = join(dir, 'in.bed');
      writeFileSync(p, input);
      await readBed(p);
    },
  },
  region: {
    async seeds() {
      return [Buffer.from('chr11:5,225,000-5,300,000'), Buffer.from('HLA-A*01:01:1-100')];
    },
    async run(input) {
      parseRegion(text(input));
    },
  },
  targets: {
    async seeds() {
      return [
        Buffer.from('\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription\n0\tA+\t/x\t768\t384\t1.0\tsum\t1\tCAGE:K562\n1\tA-\t/x\t768\t384\t1.0\tsum\t0\tCAGE:K562\n2\tD\t/x\t32\t2\t1\tmean\t2\tDNASE:liver\n'),
        Buffer.from('index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n0\t0\tENCFF1\t/x\t32\t2\tmean\tDNASE:a\n'),
      ];
    },
    async run(input) {
      const table = parseTargets(text(input), 'targets.txt');
      selectTracks(table, undefined);
      selectTracks(table, '0,DNASE');
    },
  },
  gtf: {
    async seeds() {
      return [Buffer.from(GTF_TEXT), gzipSync(GTF_TEXT)];
    },
    async run(input, dir) {
      const p = join(dir, 'in.gtf');
      writeFileSync(p, input);
      for (const span of [false, true]) {
        const genes = await contract(p, [GtfError], () => readGtf(p, { span }));
        if (!genes) return;
        check(genes.length > 0, 'no genes and no error');
        for (const g of genes) {
          check(g.id !== '' && g.exons.length > 0 && (!span || g.exons.length === 1), `gene ${JSON.stringify(g.id)}: ${g.exons.length} exons`);
          g.exons.forEach(([a, b], i) => check(a >= 0 && a < b && (i === 0 || a > g.exons[i - 1]![1]), `gene ${g.id}: exons not sorted, disjoint, non-empty`));
        }
        const index = new GeneIndex(genes);
        for (const g of genes.slice(0, 16)) {
          check(index.find(g.id) === g, `gene ${g.id} not found by its id`);
          const [start, end] = [g.exons[0]![0], g.exons[g.exons.length - 1]![1]];
          check(index.overlapping(g.chrom, start, end).includes(g), `gene ${g.id} does not overlap its own span`);
        }
      }
    },
  },
  tfrecord: {
    async seeds() {
      const raw = Buffer.concat([tfrecordFrame(basenjiExample(0)), tfrecordFrame(basenjiExample(1))]);
      return [raw, deflateSync(raw)];
    },
    async run(input, dir) {
      const p = join(dir, 'in.tfr');
      writeFileSync(p, input);
      await readTFRecordFile(p);
    },
  },
  'tf-example': {
    // The Example protobuf itself, framed with valid checksums (which mutations of the file never keep).
    async seeds() {
      return [Buffer.from(basenjiExample(0)), Buffer.from(basenjiExample(3))];
    },
    async run(input, dir) {
      const p = join(dir, 'in.tfr');
      writeFileSync(p, Buffer.concat([tfrecordFrame(input), tfrecordFrame(basenjiExample(2))]));
      await readTFRecordFile(p);
    },
  },
  'bigwig-training': {
    // A user's bigWig as the training targets read it (the table stays valid; the bigWig is the outside bytes).
    async seeds() {
      return [
        encodeBigWig(
          [
            { chrom: 'chr1', starts: [0, 100, 250, 600], ends: [50, 200, 400, 601], values: [1, 2.5, 0, 300] },
            { chrom: 'chr2', starts: [10], ends: [20], values: [7] },
          ],
          new Map([
            ['chr1', 1000],
            ['chr2', 500],
          ]),
        ),
      ];
    },
    async run(input, dir) {
      writeFileSync(join(dir, 'in.bw'), input);
      writeFileSync(join(dir, 'targets.txt'), TRAINING_TABLE);
      const training = await readTrainingTable(join(dir, 'targets.txt'));
      const coverage = await contract('in.bw', [TrackCoverageError], () => TrackCoverage.open(training));
      if (!coverage) return;
      for (const [chrom, start, bins, size] of [['chr1', -64, 8, 32], ['chr1', 0, 40, 32], ['chr2', 5, 4, 8], ['chrX', 0, 2, 32]] as const) {
        const out = await contract('in.bw', [TrackCoverageError], () => coverage.bins(chrom, start, bins, size));
        if (!out) continue;
        check(out.length === bins * 2, `${out.length} targets for ${bins} bins × 2 tracks`);
        check(!out.some(Number.isNaN), `a NaN target on ${chrom}`);
      }
    },
  },
  'multimolecule-config': {
    async seeds() {
      return [Buffer.from(JSON.stringify(multimoleculeEnformerConfig(SMALL_ENFORMER))), Buffer.from(JSON.stringify(multimoleculeBorzoiConfig(SMALL_BORZOI)))];
    },
    async run(input) {
      let json: unknown;
      try {
        json = JSON.parse(text(input));
      } catch {
        return; // readConfig reports JSON syntax errors itself
      }
      if (json === null || typeof json !== 'object' || Array.isArray(json)) return;
      const config = json as Record<string, unknown>;
      if (!isMultiMoleculeConfig(config)) return; // the config-json target covers the other configs
      const mm = await contract('config.json', [ConfigError], () => fromMultiMoleculeConfig(config, 'config.json'));
      if (!mm) return;
      // What the mapping accepts builds an architecture (or fails cleanly in the reference parsers).
      const arch = await contract('config.json', [ConfigError], () => architectureFromConfig(config, 'config.json'));
      if (!arch) return;
      check(arch.kind === mm.kind && arch.headNames.length === 1 && arch.headNames[0] === mm.species && arch.tracks(mm.species) === mm.tracks, `mapped to ${arch.kind} heads ${arch.headNames}`);
      arch.expectedWeights();
    },
  },
};

// TensorFlow checkpoints (the official Enformer SavedModel's variables/): two targets, the `.index`
// table (the data shard stays the seed's, so mutations reach the table, entry and checksum checks)
// and the object graph (stored with a valid checksum, so mutations reach the graph walk and the
// Enformer mapping). Imported lazily to keep this one self-contained block.
async function writeTfCheckpointSeed(prefix: string, graph?: Uint8Array): Promise<Uint8Array> {
  const { writeTfCheckpoint, objectGraphBytes } = await import('../test/tf-checkpoint-writer.js');
  const { checkpointKey } = await import('../weights/tf-object-graph.js');
  const f32 = (n: number) => new Uint8Array(Float32Array.from({ length: n }, (_, i) => i / 4 - 1).buffer);
  const vars: { path: string[]; dtype: 'float32' | 'int64'; shape: number[]; data: Uint8Array }[] = [
    { path: ['model', '_trunk', '_layers', '0', '_layers', '0', 'w'], dtype: 'float32', shape: [3, 4, 2], data: f32(24) },
    { path: ['model', '_trunk', '_layers', '0', '_layers', '0', 'b'], dtype: 'float32', shape: [2], data: f32(2) },
    { path: ['model', '_trunk', '_layers', '1', '_layers', '0', '_layers', '1', '_module', '_layers', '0', 'moving_mean', 'average'], dtype: 'float32', shape: [1, 1, 2], data: f32(2) },
    { path: ['model', '_trunk', '_layers', '1', '_layers', '0', '_layers', '1', '_module', '_layers', '0', 'moving_mean', '_counter'], dtype: 'int64', shape: [], data: new Uint8Array(8) },
    { path: ['model', '_trunk', '_layers', '2', '_layers', '0', '_layers', '0', '_module', '_layers', '1', '_r_w_bias'], dtype: 'float32', shape: [1, 2, 1, 2], data: f32(4) },
    { path: ['model', '_trunk', '_layers', '4', '_layers', '0', '_layers', '2', 'w'], dtype: 'float32', shape: [1, 2, 4], data: f32(8) },
    { path: ['model', '_heads', 'human', '_layers', '0', 'w'], dtype: 'float32', shape: [4, 3], data: f32(12) },
    { path: ['model', '_heads', 'human', '_layers', '0', 'b'], dtype: 'float32', shape: [3], data: f32(3) },
  ];
  const objectGraph = graph ?? objectGraphBytes(vars.map((v) => ({ path: v.path, fullName: `enformer/${v.path.join('/')}` })));
  writeTfCheckpoint(
    prefix,
    [
      ...vars.map((v) => ({ key: checkpointKey(v.path, 'VARIABLE_VALUE'), dtype: v.dtype, shape: v.shape, data: v.data })),
      { key: '_CHECKPOINTABLE_OBJECT_GRAPH', dtype: 'string', shape: [], data: [objectGraph] },
    ],
    { blockSize: 200, restartInterval: 2 },
  );
  return objectGraph;
}

TARGETS['tf-checkpoint-index'] = {
  async seeds(dir) {
    await writeTfCheckpointSeed(join(dir, 'seed'));
    return [readFileSync(join(dir, 'seed.index'))];
  },
  async run(input, dir) {
    const { TfBundle, TfCheckpointError } = await import('../weights/tf-bundle.js');
    const { readEnformerCheckpoint } = await import('../weights/enformer-tf.js');
    const prefix = join(dir, 'ckpt');
    await writeTfCheckpointSeed(prefix);
    writeFileSync(`${prefix}.index`, input);
    const bundle = TfBundle.open(prefix);
    for (const e of bundle.entries.values()) {
      try {
        if (e.dtype === 7) bundle.readStrings(e.key);
        else bundle.readBytes(e.key);
      } catch (err) {
        if (!(err instanceof TfCheckpointError)) throw err;
      }
    }
    readEnformerCheckpoint(prefix);
  },
};

TARGETS['tf-object-graph'] = {
  async seeds(dir) {
    return [Buffer.from(await writeTfCheckpointSeed(join(dir, 'seed')))];
  },
  async run(input, dir) {
    const { readEnformerCheckpoint } = await import('../weights/enformer-tf.js');
    const prefix = join(dir, 'ckpt');
    await writeTfCheckpointSeed(prefix, input);
    readEnformerCheckpoint(prefix);
  },
};
