/*
 * Measured FP32 FMA peak of this machine (AVX2 + FMA, 8-wide) and the effective core clock.
 *   fma-peak THREADS SECONDS
 * Each thread (pinned to CPU i when the OS allows) runs 12 independent chains of 8-wide fused
 * multiply-adds: more chains than FMA latency x FMA ports on current x86 cores (4 x 2), so the FMA
 * units, not latency, bound the rate. 16 FLOP per 8-wide FMA. The clock is measured separately
 * with a chain of dependent integer adds (1 cycle each on every x86 core since the Pentium 4).
 * Output, one line per figure: "threads=T gflops=X" and "clock_ghz=Y".
 * Built on demand by src/bench/fma-peak.ts (gcc -O2 -mavx2 -mfma -pthread); not part of the package.
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
  long iterations;
  double seconds;
  float sink;
};

#define CHAINS 12
/* In assembly, so that no compiler merges, reorders or folds the chains: acc = acc * m + c. */
#define FMA12()                                                                                   \
  __asm__ volatile(                                                                               \
      "vfmadd213ps %13, %12, %0\n\tvfmadd213ps %13, %12, %1\n\tvfmadd213ps %13, %12, %2\n\t"   \
      "vfmadd213ps %13, %12, %3\n\tvfmadd213ps %13, %12, %4\n\tvfmadd213ps %13, %12, %5\n\t"   \
      "vfmadd213ps %13, %12, %6\n\tvfmadd213ps %13, %12, %7\n\tvfmadd213ps %13, %12, %8\n\t"   \
      "vfmadd213ps %13, %12, %9\n\tvfmadd213ps %13, %12, %10\n\tvfmadd213ps %13, %12, %11"      \
      : "+x"(acc0), "+x"(acc1), "+x"(acc2), "+x"(acc3), "+x"(acc4), "+x"(acc5), "+x"(acc6),        \
        "+x"(acc7), "+x"(acc8), "+x"(acc9), "+x"(acc10), "+x"(acc11)                               \
      : "x"(m), "x"(c))

static void *fma_loop(void *arg) {
  struct job *j = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(j->cpu, &set);
  sched_setaffinity(0, sizeof set, &set); /* best effort: unpinned still measures */
  const __m256 m = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-3f);
  __m256 acc0 = _mm256_set1_ps(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0, acc5 = acc0;
  __m256 acc6 = acc0, acc7 = acc0, acc8 = acc0, acc9 = acc0, acc10 = acc0, acc11 = acc0;
  double t0 = now();
  for (long n = 0; n < j->iterations; n++) {
    FMA12();
  }
  j->seconds = now() - t0;
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)),
                           _mm256_add_ps(_mm256_add_ps(acc4, acc5), _mm256_add_ps(acc6, acc7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(acc8, acc9), _mm256_add_ps(acc10, acc11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  j->sink = out[0];
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
  if (threads < 1 || threads > 256 || seconds <= 0) {
    fprintf(stderr, "usage: fma-peak THREADS SECONDS\n");
    return 2;
  }
  /* Calibrate: ~1 ns per iteration of 12 FMAs at a few GHz; scale to the requested time. */
  struct job probe = {0, 10000000, 0, 0};
  fma_loop(&probe);
  long iterations = (long)(probe.iterations * seconds / probe.seconds);
  if (iterations < 1000) iterations = 1000;

  struct job *jobs = calloc(threads, sizeof *jobs);
  pthread_t *ids = calloc(threads, sizeof *ids);
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    jobs[i] = (struct job){i, iterations, 0, 0};
    pthread_create(&ids[i], NULL, fma_loop, &jobs[i]);
  }
  float sink = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(ids[i], NULL);
    sink += jobs[i].sink;
  }
  double wall = now() - t0;
  double flops = 16.0 * CHAINS * (double)iterations * threads;
  printf("threads=%d gflops=%.2f seconds=%.3f sink=%g\n", threads, flops / wall / 1e9, wall, sink);
  long adds = (long)(5e8 * seconds);
  printf("clock_ghz=%.3f\n", clock_ghz(adds / 64));
  free(jobs);
  free(ids);
  return 0;
}
