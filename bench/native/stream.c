/* A STREAM-style memory bandwidth probe (after McCalpin's STREAM: copy and triad over arrays far
 * larger than the last-level cache), plus a read-only sum, to put generation speed next to the
 * machine's limit: a memory-bound decoder reads every weight once per token and writes almost
 * nothing, so tokens/s <= read bandwidth / model bytes. Copy's figure counts the bytes read and
 * written (STREAM's convention), not the write-allocate reads the hardware also does, so it is
 * lower than what reading alone achieves.
 * Prints one JSON line. Build: gcc -O3 -march=native -fopenmp stream.c -o stream */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 64u << 20; /* doubles per array */
    int repeats = argc > 2 ? atoi(argv[2]) : 10;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) return 1;
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) a[i] = 1.0, b[i] = 2.0, c[i] = 0.0;
    double copy[64], triad[64], reads[64], total = 0.0;
    if (repeats > 64) repeats = 64;
    for (int r = 0; r < repeats; r++) {
        double t0 = now();
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) c[i] = a[i];
        double t1 = now();
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
        double t2 = now();
        /* Integer adds: they vectorise without reassociating floating point, so the loop is
         * bound by memory, not by the latency of one chain of FP adds. */
        const unsigned long long *words = (const unsigned long long *)b;
        unsigned long long sum = 0;
#pragma omp parallel for reduction(+ : sum)
        for (size_t i = 0; i < n; i++) sum += words[i];
        double t3 = now();
        total += (double)(sum & 1);
        reads[r] = 1.0 * n * sizeof(double) / (t3 - t2) / 1e9;
        copy[r] = 2.0 * n * sizeof(double) / (t1 - t0) / 1e9;  /* bytes read + written */
        triad[r] = 3.0 * n * sizeof(double) / (t2 - t1) / 1e9;
    }
    qsort(copy, repeats, sizeof(double), compare);
    qsort(triad, repeats, sizeof(double), compare);
    qsort(reads, repeats, sizeof(double), compare);
    printf("{\"threads\": %d, \"array_mb\": %.0f, \"copy_best_gbs\": %.2f, \"copy_median_gbs\": %.2f, "
           "\"triad_best_gbs\": %.2f, \"triad_median_gbs\": %.2f, \"read_best_gbs\": %.2f, "
           "\"read_median_gbs\": %.2f, \"check\": %.1f}\n",
           omp_get_max_threads(), n * sizeof(double) / 1e6, copy[repeats - 1], copy[repeats / 2],
           triad[repeats - 1], triad[repeats / 2], reads[repeats - 1], reads[repeats / 2],
           a[n / 2] + total * 0.0);
    return 0;
}
