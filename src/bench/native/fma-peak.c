/*
 * Measured FP32 FMA peak of this machine and the effective core clock.
 *   fma-peak THREADS SECONDS [WIDTH]
 * Each thread (pinned to CPU i when the OS allows) runs 12 independent chains of fused multiply-adds,
 * WIDTH floats each: 8 (AVX2 + FMA, the default) or 16 (AVX-512F). 12 chains are more than FMA
 * latency x FMA ports on current x86 cores (4 x 2), so the FMA units, not latency, bound the rate.
 * The 16-wide loop is the peak of a machine with AVX-512: ONNX Runtime's kernels use 512-bit FMAs
 * there, and cores with full-width 512-bit units (Zen 5, Intel's server cores) do twice the FLOPs
 * per cycle of the 8-wide loop (Zen 4 splits each into two 256-bit halves: the same rate).
 * The clock is measured separately with a chain of dependent integer adds (1 cycle each on every
 * x86 core since the Pentium 4).
 * Output, one line per figure: "threads=T width=W gflops=X" and "clock_ghz=Y".
 * Built on demand by src/bench/fma-peak.ts (cc -O2 -mavx2 -mfma -pthread; the 16-wide loop is
 * compiled for AVX-512F by its target attribute and runs only when asked); not part of the package.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

struct job {
  int cpu;
  int width;
  long iterations;
  double seconds;
  float sink;
};

#define CHAINS 12
/*
 * In assembly, so that no compiler merges, reorders or folds the chains: acc = acc * m + c. R is the
 * register constraint: "x" for ymm registers, "v" (any of zmm0-31) for zmm.
 */
#define FMA12(R)                                                                                  \
  __asm__ volatile(                                                                               \
      "vfmadd213ps %13, %12, %0\n\tvfmadd213ps %13, %12, %1\n\tvfmadd213ps %13, %12, %2\n\t"   \
      "vfmadd213ps %13, %12, %3\n\tvfmadd213ps %13, %12, %4\n\tvfmadd213ps %13, %12, %5\n\t"   \
      "vfmadd213ps %13, %12, %6\n\tvfmadd213ps %13, %12, %7\n\tvfmadd213ps %13, %12, %8\n\t"   \
      "vfmadd213ps %13, %12, %9\n\tvfmadd213ps %13, %12, %10\n\tvfmadd213ps %13, %12, %11"      \
      : "+" R(acc0), "+" R(acc1), "+" R(acc2), "+" R(acc3), "+" R(acc4), "+" R(acc5), "+" R(acc6), \
        "+" R(acc7), "+" R(acc8), "+" R(acc9), "+" R(acc10), "+" R(acc11)                          \
      : R(m), R(c))

/* The timed loop for one vector type: its set1/add intrinsics, register constraint and lane sum. */
#define DEFINE_FMA_LOOP(ATTR, NAME, VEC, SET1, ADD, R, SUM)                                      \
  ATTR static void NAME(struct job *j) {                                                          \
    const VEC m = SET1(0.999f), c = SET1(1e-3f);                                                 \
    VEC acc0 = SET1(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0, acc5 = acc0;       \
    VEC acc6 = acc0, acc7 = acc0, acc8 = acc0, acc9 = acc0, acc10 = acc0, acc11 = acc0;           \
    double t0 = now();                                                                            \
    for (long n = 0; n < j->iterations; n++) {                                                    \
      FMA12(R);                                                                                   \
    }                                                                                             \
    j->seconds = now() - t0;                                                                      \
    VEC s = ADD(ADD(ADD(acc0, acc1), ADD(acc2, acc3)), ADD(ADD(acc4, acc5), ADD(acc6, acc7)));    \
    j->sink = SUM(ADD(s, ADD(ADD(acc8, acc9), ADD(acc10, acc11))));                               \
  }

static float sum8(__m256 s) {
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

DEFINE_FMA_LOOP(, fma_loop8, __m256, _mm256_set1_ps, _mm256_add_ps, "x", sum8)
/* Compiled for AVX-512F by its target attribute alone; it runs only where the CPU has it. */
DEFINE_FMA_LOOP(__attribute__((target("avx512f"))), fma_loop16, __m512, _mm512_set1_ps, _mm512_add_ps, "v", _mm512_reduce_add_ps)

static void *fma_loop(void *arg) {
  struct job *j = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(j->cpu, &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort: unpinned still measures */
  if (j->width == 16)
    fma_loop16(j);
  else
    fma_loop8(j);
  return NULL;
}

/* Cycles: 64 dependent adds per iteration; the loop counter runs beside them. */
static double clock_ghz(long iterations) {
  long x = 0;
  double t0 = now();
  for (long n = 0; n < iterations; n++) {
    __asm__ volatile(
        ".rept 64\n\taddq $1, %0\n\t.endr"
        : "+r"(x));
  }
  double s = now() - t0;
  if (x != 64 * iterations) return 0;
  return 64.0 * iterations / s / 1e9;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double seconds = argc > 2 ? atof(argv[2]) : 1.0;
  int width = argc > 3 ? atoi(argv[3]) : 8;
  if (threads < 1 || threads > 256 || seconds <= 0 || (width != 8 && width != 16)) {
    fprintf(stderr, "usage: fma-peak THREADS SECONDS [8|16]\n");
    return 2;
  }
  /* Calibrate: a few ns per iteration of 12 FMAs; scale to the requested time. */
  struct job probe = {0, width, 10000000, 0, 0};
  fma_loop(&probe);
  long iterations = (long)(probe.iterations * seconds / probe.seconds);
  if (iterations < 1000) iterations = 1000;

  struct job *jobs = calloc(threads, sizeof *jobs);
  pthread_t *ids = calloc(threads, sizeof *ids);
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    jobs[i] = (struct job){i, width, iterations, 0, 0};
    pthread_create(&ids[i], NULL, fma_loop, &jobs[i]);
  }
  float sink = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    sink += jobs[i].sink;
  }
  double wall = now() - t0;
  double flops = 2.0 * width * CHAINS * (double)iterations * threads;
  printf("threads=%d width=%d gflops=%.2f seconds=%.3f sink=%g\n", threads, width, flops / wall / 1e9, wall, sink);
  long adds = (long)(5e8 * seconds);
  printf("clock_ghz=%.3f\n", clock_ghz(adds / 64));
  free(jobs);
  free(ids);
  return 0;
}
