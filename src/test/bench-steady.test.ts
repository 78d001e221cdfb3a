/** The steady-benchmark statistics (src/bench/steady.ts): median/min/max of timed runs, the disturbed verdict of the FMA probes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmaPeakTool, fmaWidth, measureFmaPeak } from '../bench/fma-peak.js';
import { machineInfo } from '../bench/machine.js';
import { DISTURBED_RATIO, FmaProbes, median, probeNote, probeVerdict, runsNote, spread, spreadFields, spreadText, STEADY_RUNS, verdictFields, verdictLine } from '../bench/steady.js';

test('steady: median of odd and even counts, whatever the order', () => {
  assert.equal(median([3]), 3);
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([22.98, 24.06, 22.51, 23.5, 22.7]), 22.98);
  // Even: the mean of the two middle values.
  assert.equal(median([4, 1]), 2.5);
  assert.equal(median([10, 2, 8, 4]), 6);
  assert.equal(median([1, 2, 3, 4, 5, 100]), 3.5);
  const xs = [9, 7, 8];
  median(xs);
  assert.deepEqual(xs, [9, 7, 8], 'the input is not sorted in place');
  assert.throws(() => median([]), /no values/);
});

test('steady: spread gives count, median, min and max; odd and even counts', () => {
  assert.deepEqual(spread([24.06, 22.51, 22.98, 23.4, 22.7]), { count: 5, median: 22.98, min: 22.51, max: 24.06 });
  assert.deepEqual(spread([20, 26, 21, 23, 22, 30]), { count: 6, median: 22.5, min: 20, max: 30 });
  assert.deepEqual(spread([7]), { count: 1, median: 7, min: 7, max: 7 });
  assert.throws(() => spread([]), /no values/);
  assert.throws(() => spread([1, NaN]), /finite/);
});

test('steady: the text and the RESULT fields of a spread', () => {
  const s = spread([22.51, 22.98, 24.06, 23.4, 22.7]);
  assert.equal(spreadText(s), '22.98 s (min 22.51, max 24.06, median of 5)');
  assert.equal(spreadFields('seconds', s), 'seconds_min=22.510 seconds_max=24.060');
  assert.equal(spreadFields('forward_seconds', spread([1, 2])), 'forward_seconds_min=1.000 forward_seconds_max=2.000');
});

test('steady: probes 9 % apart are steady, 11 % apart disturbed (limit 10 %)', () => {
  assert.equal(DISTURBED_RATIO, 1.1);
  const steady = probeVerdict([200, 204, 218, 205]); // 218 / 200 = 1.09
  assert.equal(steady.disturbed, false);
  assert.equal(steady.min, 200);
  assert.equal(steady.max, 218);
  assert.ok(Math.abs(steady.ratio! - 1.09) < 1e-12);
  // The highest and the lowest probe decide, wherever they fall.
  const disturbed = probeVerdict([198, 199.8, 180, 195]); // 199.8 / 180 = 1.11
  assert.equal(disturbed.disturbed, true);
  assert.ok(Math.abs(disturbed.ratio! - 1.11) < 1e-12);
  assert.equal(probeVerdict([100, 109]).disturbed, false);
  assert.equal(probeVerdict([100, 111]).disturbed, true);
  assert.equal(probeVerdict([111, 100]).disturbed, true, 'the order does not matter');
  assert.equal(probeVerdict([100, 110]).disturbed, false, 'exactly 10 % is not more than 10 %');
  assert.equal(verdictFields(probeVerdict([100, 109])), 'disturbed=0 probe_ratio=1.090');
  assert.equal(verdictFields(probeVerdict([100, 111])), 'disturbed=1 probe_ratio=1.110');
  assert.match(verdictLine(probeVerdict([100, 111])), /^DISTURBED: 2 FMA probes 100\.0–111\.0 GFLOP\/s, highest \/ lowest 1\.110 > 1\.10/);
  assert.match(verdictLine(probeVerdict([100, 109])), /^steady: /);
});

test('steady: fewer than two probes give no verdict', () => {
  assert.deepEqual(probeVerdict([]), { count: 0, min: undefined, max: undefined });
  assert.equal(probeVerdict([200]).disturbed, undefined);
  assert.equal(probeVerdict([200, NaN]).disturbed, undefined, 'a failed probe does not count');
  assert.equal(verdictFields(probeVerdict([200])), 'disturbed=unknown');
  assert.match(verdictLine(probeVerdict([200])), /unknown/);
});

test('steady: FmaProbes keeps every probe, the highest is the peak, and the verdict covers them all', async () => {
  const seq = [200, 195, 210, 178];
  const asked: number[] = [];
  const probes = new FmaProbes((seconds) => (asked.push(seconds), { threads: 2, width: 8, gflops: seq.shift()!, clockGhz: 3 }), 0);
  const first = probes.first();
  assert.ok(!('problem' in first) && first.gflops === 200);
  assert.equal(await probes.after(), 195);
  assert.equal(probes.last, 195);
  assert.equal(await probes.after(), 210);
  assert.equal(probes.verdict().disturbed, false, '210 / 195 = 1.077');
  assert.equal(await probes.after(), 178);
  assert.deepEqual(probes.values, [200, 195, 210, 178]);
  assert.deepEqual(asked, [1, 0.5, 0.5, 0.5], 'one second before the runs, half a second after each');
  assert.equal(probes.peak, 210);
  assert.equal(probes.verdict().disturbed, true, '210 / 178 = 1.18');

  const none = new FmaProbes(() => ({ problem: 'no compiler' }), 0);
  assert.deepEqual(none.first(), { problem: 'no compiler' });
  assert.equal(await none.after(), undefined);
  assert.equal(none.peak, undefined);
  assert.equal(none.problem, 'no compiler');
  assert.equal(verdictFields(none.verdict()), 'disturbed=unknown');
});

test('steady: a run between probes 11 % apart is marked, one between probes 9 % apart is not', () => {
  assert.equal(probeNote(200, 218), ', FMA probe after it 218.0 GFLOP/s');
  assert.equal(probeNote(200, 178), ', FMA probe after it 178.0 GFLOP/s (disturbed: 200.0 before it, 1.12×)');
  assert.equal(probeNote(undefined, 190), ', FMA probe after it 190.0 GFLOP/s');
  assert.equal(probeNote(200, undefined), '');
});

test('steady: fewer runs than a steady figure are noted', () => {
  assert.equal(STEADY_RUNS, 5);
  assert.equal(runsNote(5), null);
  assert.equal(runsNote(7), null);
  assert.match(runsNote(2)!, /2 timed runs, fewer than the 5/);
});

test('fma-peak: the probe is 16 floats wide where the CPU has AVX-512, else 8, and the tool reports its width', (t) => {
  assert.equal(fmaWidth('AVX-512'), 16);
  assert.equal(fmaWidth('AVX2+FMA'), 8);
  const m = machineInfo();
  if (m.vectorWidth !== 'AVX-512' && m.vectorWidth !== 'AVX2+FMA') return t.skip(`no AVX2+FMA here (${m.vectorWidth})`);
  const tool = fmaPeakTool();
  if ('problem' in tool) return t.skip(tool.problem);
  const r = measureFmaPeak(tool.path, 1, 0.02, fmaWidth(m.vectorWidth));
  assert.equal(r.width, fmaWidth(m.vectorWidth));
  assert.ok(r.gflops > 0 && r.clockGhz > 0, JSON.stringify(r));
});
