/**
 * Remote genome, VCF and bigWig reads against a fault-injecting server on 127.0.0.1: connection resets, 5xx,
 * slow responses past the timeout and truncated bodies. Reads retry and return exactly the local
 * bytes (and score-variants with a VCF URL writes the local run's bytes); a server that keeps failing
 * ends in one clear line naming the URL and the cause.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openGenome } from '../genome/reference.js';
import { openVcf, type VcfRecord } from '../genome/vcf.js';
import type { Region } from '../genome/regions.js';
import { randomGenome, writeFastaFai, writeTwoBit } from './genome-files.js';
import { writeBgzipTabix } from './vcf-files.js';
import { writeBigWig } from '../formats/bigwig.js';
import { readTrainingTable, TrackCoverage } from '../formats/track-coverage.js';
import { readTargets } from '../formats/targets.js';
import { assertCliError, assertCliOk, fixture, runCli, skipUnless, tempDir } from './fixtures.js';

type Fault = 'reset' | '503' | 'slow' | 'truncate' | 'ok';

let tmp: { dir: string; cleanup: () => void };
let server: Server;
let base = '';
let plan: Fault[] = [];
let always: Fault | undefined;
const seen: Fault[] = [];
const genome = randomGenome({ chr1: 5_000, chr2: 777 }, 3);
const other = (b: string) => 'ACGT'[('ACGT'.indexOf(b.toUpperCase()) + 1) % 4]!;
const ref = (chrom: string, pos: number, n = 1) => genome.get(chrom)!.slice(pos - 1, pos - 1 + n).toUpperCase();

/** A VCF on the test genome: SNVs, an insertion, a deletion and a multi-allelic record, INFO to parse. */
function vcfText(): string {
  const header = ['##fileformat=VCFv4.2', '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">', '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'];
  const chr1 = new Map<number, string>();
  for (const pos of [40, 900, 1300, 2100, 3600, 4700]) chr1.set(pos, `chr1\t${pos}\tsnv${pos}\t${ref('chr1', pos)}\t${other(ref('chr1', pos))}\t.\tPASS\tDP=${pos % 97}`);
  chr1.set(3000, `chr1\t3000\tins\t${ref('chr1', 3000)}\t${ref('chr1', 3000)}GATTACA\t.\t.\t.`);
  chr1.set(3900, `chr1\t3900\tdel\t${ref('chr1', 3900, 5)}\t${ref('chr1', 3900)}\t.\t.\t.`);
  // Sorted by position, as tabix needs.
  const data = [...chr1.keys()].sort((a, b) => a - b).map((p) => chr1.get(p)!);
  data.push(`chr2\t300\tmulti\t${ref('chr2', 300)}\t${other(ref('chr2', 300))},${other(other(ref('chr2', 300)))}\t.\t.\t.`);
  return [...header, ...data].join('\n') + '\n';
}

before(async () => {
  tmp = tempDir('seq2track-http-faults-');
  writeFastaFai(join(tmp.dir, 'g.fa'), genome);
  writeTwoBit(join(tmp.dir, 'g.2bit'), genome);
  writeFileSync(join(tmp.dir, 'v.vcf'), vcfText());
  writeFileSync(join(tmp.dir, 'v.vcf.gz'), gzipSync(vcfText()));
  writeBgzipTabix(join(tmp.dir, 'b.vcf.gz'), vcfText(), 2);
  process.env.SEQ2TRACK_HTTP_TIMEOUT_MS = '400';
  process.env.SEQ2TRACK_HTTP_RETRIES = '6';
  server = createServer((req, res) => {
    const fault = always ?? plan.shift() ?? 'ok';
    seen.push(fault);
    const file = join(tmp.dir, new URL(req.url ?? '/', 'http://x').pathname);
    if (!existsSync(file)) return void res.writeHead(404).end('not found');
    const data = readFileSync(file);
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m ? Math.min(data.length - 1, m[2] ? Number(m[2]) : data.length - 1) : data.length - 1;
    const body = data.subarray(start, end + 1);
    const headers = { 'content-length': body.length, 'accept-ranges': 'bytes', ...(m ? { 'content-range': `bytes ${start}-${end}/${data.length}` } : {}) };
    if (fault === 'reset') return req.socket.destroy();
    if (fault === '503') return void res.writeHead(503).end('busy');
    if (fault === 'slow') return void setTimeout(() => res.writeHead(m ? 206 : 200, headers).end(body), 1500).unref();
    if (fault === 'truncate') {
      res.writeHead(m ? 206 : 200, headers);
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return void setTimeout(() => req.socket.destroy(), 20);
    }
    res.writeHead(m ? 206 : 200, headers).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  delete process.env.SEQ2TRACK_HTTP_TIMEOUT_MS;
  delete process.env.SEQ2TRACK_HTTP_RETRIES;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  tmp.cleanup();
});

for (const file of ['g.fa', 'g.2bit']) {
  test(`http faults (${file}): resets, 5xx, slow and truncated responses are retried; the bases equal the local file's`, async () => {
    always = undefined;
    seen.length = 0;
    // Every request's first attempt fails, in turn with each kind of fault.
    const faults: Fault[] = ['reset', '503', 'slow', 'truncate'];
    plan = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? faults[(i / 2) % faults.length]! : 'ok'));
    const remote = await openGenome(`${base}/${file}`);
    const local = await openGenome(join(tmp.dir, file));
    for (const [chrom, a, b] of [['chr1', 0, 5000], ['chr1', 1234, 1300], ['chr2', -10, 800]] as const) {
      assert.equal(await remote.getSequence(chrom, a, b), await local.getSequence(chrom, a, b), `${chrom}:${a}-${b}`);
    }
    for (const f of faults) assert.ok(seen.includes(f), `fault ${f} was injected`);
  });
}

test('http faults: a server that keeps failing is one clear error naming the URL and cause', async () => {
  for (const [fault, cause] of [['503', /HTTP 503/], ['reset', /ECONNRESET|socket|other side closed|terminated/i], ['slow', /timed out/]] as const) {
    always = fault;
    const started = Date.now();
    await assert.rejects(openGenome(`${base}/g.2bit`), (e: Error) => {
      assert.match(e.message, new RegExp(`${base.replace(/[.]/g, '\\.')}/g\\.2bit.*gave up after 6 attempts`));
      assert.match(e.message, cause);
      assert.doesNotMatch(e.message, /[\r\n]/);
      return true;
    });
    assert.ok(Date.now() - started < 20_000, 'bounded by timeouts and backoff');
  }
  always = undefined;
});

const records = async (location: string, regions?: Region[], chunkBytes?: number) => {
  const out: Omit<VcfRecord, 'where'>[] = [];
  const vcf = await openVcf(location, regions, { chunkBytes });
  for await (const { where: _, ...r } of vcf.records()) out.push(r);
  return { records: out, index: vcf.index, count: await vcf.count() };
};

/** Every request's first attempt fails, in turn with each kind of fault. */
function faultEveryOther(): Fault[] {
  const faults: Fault[] = ['reset', '503', 'slow', 'truncate'];
  return Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? faults[(i / 2) % faults.length]! : 'ok'));
}

test('http faults (VCF): plain, gzip and bgzip+tabix VCF URLs read through faults give the local records', async () => {
  always = undefined;
  const regions: Region[] = [{ chrom: 'chr1', start: 1000, end: 3950, label: 'a' }, { chrom: 'chr2', start: 0, end: 777, label: 'b' }];
  for (const [file, regs, index] of [['v.vcf', undefined, undefined], ['v.vcf.gz', undefined, undefined], ['v.vcf.gz', regions, undefined], ['b.vcf.gz', regions, 'tbi']] as const) {
    seen.length = 0;
    plan = faultEveryOther();
    // 160-byte range requests: the stream crosses several requests, each failing once first.
    const remote = await records(`${base}/${file}`, regs ? [...regs] : undefined, 160);
    const local = await records(join(tmp.dir, file), regs ? [...regs] : undefined);
    assert.equal(remote.index, index, `${file}: read ${index ? 'through the index' : 'as a stream'}`);
    assert.deepEqual(remote.records, local.records, `${file}${regs ? ' with regions' : ''}: records`);
    assert.equal(remote.count, local.count);
    assert.equal(local.records.length, regs ? 6 : 9, `${file}: records read`);
    for (const f of ['reset', '503', 'slow', 'truncate'] as const) assert.ok(seen.includes(f), `${file}: fault ${f} was injected`);
  }
});

test('http faults (VCF): a missing or never-recovering VCF URL is one clear error', async () => {
  plan = [];
  always = undefined;
  await assert.rejects(openVcf(`${base}/none.vcf`), (e: Error) => {
    assert.match(e.message, /\/none\.vcf: cannot read VCF \(HTTP 404\)$/);
    return true;
  });
  always = '503';
  await assert.rejects(openVcf(`${base}/v.vcf`), (e: Error) => {
    assert.equal(e.message, `${base}/v.vcf: cannot read VCF (HTTP 503 (gave up after 6 attempts))`);
    return true;
  });
  always = undefined;
});

const ENFORMER = fixture('enformer-small');

test('http faults: score-variants with a VCF URL through faults writes the local run\'s bytes; a dead server is one line', { skip: skipUnless('enformer-small') }, async () => {
  always = undefined;
  plan = [];
  const env = { SEQ2TRACK_CACHE: join(tmp.dir, 'cache'), SEQ2TRACK_HTTP_TIMEOUT_MS: '400', SEQ2TRACK_HTTP_RETRIES: '6' };
  const args = (vcf: string, out: string) => ['score-variants', '--model', ENFORMER!, '--genome', join(tmp.dir, 'g.fa'), '--vcf', vcf, '--window-length', '8192', '--tracks', '0-2', '--threads', '1', '--out', join(tmp.dir, out)];
  assertCliOk(await runCli(args(join(tmp.dir, 'v.vcf.gz'), 'local.tsv'), env));
  seen.length = 0;
  plan = faultEveryOther();
  assertCliOk(await runCli(args(`${base}/v.vcf.gz`, 'remote.tsv'), env));
  assert.ok(seen.includes('reset') && seen.includes('503'), 'faults were injected');
  assert.ok(readFileSync(join(tmp.dir, 'remote.tsv')).equals(readFileSync(join(tmp.dir, 'local.tsv'))), 'remote VCF: the same bytes as the local run');
  assert.ok(readFileSync(join(tmp.dir, 'local.tsv'), 'utf8').split('\n').length > 20, 'rows were written');

  always = 'reset';
  const r = await runCli(args(`${base}/v.vcf.gz`, 'dead.tsv'), env);
  always = undefined;
  assertCliError(r, new RegExp(`${base.replace(/[.]/g, '\\.')}/v\\.vcf\\.gz: cannot read VCF \\(.*gave up after 6 attempts\\)`), 'dead server');
  assert.ok(!existsSync(join(tmp.dir, 'dead.tsv')) && !existsSync(join(tmp.dir, 'dead.tsv.partial')), 'nothing written');
});

test('http faults (bigWig): training coverage from bigWig URLs read through faults equals the local files\'; a dead server is one line', async () => {
  always = undefined;
  plan = [];
  const sizes = new Map([['chr1', 50_000], ['chr2', 9_000]]);
  const starts = Array.from({ length: 2000 }, (_, i) => i * 20);
  await writeBigWig(join(tmp.dir, 't.bw'), [
    { chrom: 'chr1', starts, ends: starts.map((a) => a + 15), values: starts.map((a) => (a % 997) / 7) },
    { chrom: 'chr2', starts: [0, 5000], ends: [100, 9000], values: [2, 3.5] },
  ], sizes);
  const table = (file: string) => 'identifier\tfile\tsum_stat\tscale\tdescription\n' + `A\t${file}\tsum\t1\ta\nB\t${file}\tmean\t2\tb\n`;
  writeFileSync(join(tmp.dir, 'local.txt'), table('t.bw'));
  writeFileSync(join(tmp.dir, 'remote.txt'), table(`${base}/t.bw`));
  const local = await TrackCoverage.open(await readTrainingTable(join(tmp.dir, 'local.txt')));
  seen.length = 0;
  plan = faultEveryOther();
  const remote = await TrackCoverage.open(await readTrainingTable(join(tmp.dir, 'remote.txt')));
  for (const [chrom, start, bins] of [['chr1', 0, 64], ['chr1', 20_000, 128], ['chr2', 4_000, 40]] as const) {
    assert.deepEqual(await remote.bins(chrom, start, bins, 32), await local.bins(chrom, start, bins, 32), `${chrom}:${start}`);
  }
  assert.ok(seen.includes('reset') && seen.includes('503'), 'faults were injected');
  always = '503';
  await assert.rejects(async () => TrackCoverage.open(await readTrainingTable(join(tmp.dir, 'remote.txt'))), (e: Error) => {
    assert.match(e.message, /remote\.txt:2: cannot read bigWig http:\/\/127\.0\.0\.1:\d+\/t\.bw \(HTTP 503 \(gave up after 6 attempts\)\)$/);
    return true;
  });
  always = undefined;
});

test('http faults (targets table): a table URL fetched through faults parses as the local file; a dead server is one line', async () => {
  always = undefined;
  const text = 'index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n' + Array.from({ length: 40 }, (_, i) => `${i}\tT${i}\tf${i}.bw\t32\t1\tsum\tDNASE:cell ${i}`).join('\n') + '\n';
  writeFileSync(join(tmp.dir, 'targets.txt'), text);
  seen.length = 0;
  plan = ['reset', '503', 'truncate'];
  const remote = await readTargets(`${base}/targets.txt`, join(tmp.dir, 'targets-cache-1'));
  const local = await readTargets(join(tmp.dir, 'targets.txt'), join(tmp.dir, 'targets-cache-1'));
  assert.deepEqual(remote.tracks, local.tracks);
  assert.deepEqual(seen.slice(0, 4), ['reset', '503', 'truncate', 'ok'], 'three failed attempts, then the table');
  always = '503';
  await assert.rejects(readTargets(`${base}/targets.txt`, join(tmp.dir, 'targets-cache-2')), (e: Error) => {
    assert.match(e.message, /targets\.txt: cannot fetch targets table \(HTTP 503 \(gave up after 6 attempts\)\); download it and pass --targets FILE$/);
    return true;
  });
  always = undefined;
});
