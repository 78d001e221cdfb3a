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
      const h5wasm = (await import('h5wasm/node')).default;
      await h5wasm.ready;
      const p = join(dir, 'seed.h5');
      const f = new h5wasm.File(p, 'w');
      f.create_group('model_weights');
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
