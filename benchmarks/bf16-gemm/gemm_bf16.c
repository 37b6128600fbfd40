// Issue 16's GEMM choice, measured: GFLOP/s of OpenBLAS sgemm (fp32, what the engine uses today),
// oneDNN matmul in fp32, and oneDNN matmul with bf16 inputs and fp32 output (autocast's GEMM), at the
// all-MiniLM-L6-v2 training shapes for a 32×128 batch (M = 4096 tokens). Also the error of the bf16
// product against fp32 (max |Δ| / max |C|). Build and run: benchmarks/bf16-gemm/run.sh
#include <cblas.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(call) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) { \
    fprintf(stderr, "%s failed: %d\n", #call, (int)s_); exit(1); } } while (0)

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

static uint16_t to_bf16(float x) {   // round to nearest even
    uint32_t u; memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

typedef struct { dnnl_primitive_t prim; dnnl_memory_t a, b, c; } matmul_t;

static matmul_t make_matmul(dnnl_engine_t eng, long m, long k, long n, dnnl_data_type_t in_type, void *a, void *b, float *c) {
    matmul_t mm;
    dnnl_memory_desc_t ad, bd, cd;   // oneDNN 2.x API (Debian 12's libdnnl 2.6)
    dnnl_dims_t adims = {m, k}, bdims = {k, n}, cdims = {m, n};
    CHECK(dnnl_memory_desc_init_by_tag(&ad, 2, adims, in_type, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&bd, 2, bdims, in_type, dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&cd, 2, cdims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &ad, &bd, NULL, &cd));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL));
    CHECK(dnnl_primitive_create(&mm.prim, pd));
    CHECK(dnnl_memory_create(&mm.a, &ad, eng, a));
    CHECK(dnnl_memory_create(&mm.b, &bd, eng, b));
    CHECK(dnnl_memory_create(&mm.c, &cd, eng, c));
    dnnl_primitive_desc_destroy(pd);
    return mm;
}

static void run_matmul(matmul_t *mm, dnnl_stream_t stream) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mm->a}, {DNNL_ARG_WEIGHTS, mm->b}, {DNNL_ARG_DST, mm->c}};
    CHECK(dnnl_primitive_execute(mm->prim, stream, 3, args));
    CHECK(dnnl_stream_wait(stream));
}

static double median(double *v, int n) {
    for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) if (v[j] < v[i]) { double t = v[i]; v[i] = v[j]; v[j] = t; }
    return v[n / 2];
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 9;
    // (M, K, N): QKV (3 fused 384×384), attention output, FFN up, FFN down; backward's data and weight
    // gradients have the same FLOPs with transposed operands (measured here as their own shapes).
    long shapes[][3] = {{4096, 384, 1152}, {4096, 384, 384}, {4096, 384, 1536}, {4096, 1536, 384},
                        {384, 4096, 1536}, {2048, 2048, 2048}};
    dnnl_engine_t eng; dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    printf("%-18s %12s %12s %12s %10s %12s\n", "M×K×N", "sgemm", "dnnl f32", "dnnl bf16", "bf16/sgemm", "bf16 rel err");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        long m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c = malloc(sizeof(float) * m * n), *c2 = malloc(sizeof(float) * m * n), *c3 = malloc(sizeof(float) * m * n);
        uint16_t *ah = malloc(2 * m * k), *bh = malloc(2 * k * n);
        srand(1);
        for (long i = 0; i < m * k; i++) { a[i] = (float)rand() / RAND_MAX - 0.5f; ah[i] = to_bf16(a[i]); }
        for (long i = 0; i < k * n; i++) { b[i] = (float)rand() / RAND_MAX - 0.5f; bh[i] = to_bf16(b[i]); }
        matmul_t f32 = make_matmul(eng, m, k, n, dnnl_f32, a, b, c2);
        matmul_t bf = make_matmul(eng, m, k, n, dnnl_bf16, ah, bh, c3);
        double t1[64], t2[64], t3[64];
        for (int r = -1; r < reps; r++) {   // r = -1: warm-up
            double t = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1, a, (int)k, b, (int)n, 0, c, (int)n);
            double u = now(); run_matmul(&f32, stream);
            double v = now(); run_matmul(&bf, stream);
            double w = now();
            if (r >= 0) { t1[r] = u - t; t2[r] = v - u; t3[r] = w - v; }
        }
        double flops = 2.0 * m * n * k, maxc = 0, maxd = 0, maxf = 0;
        for (long i = 0; i < m * n; i++) {
            maxc = fmax(maxc, fabs(c[i])); maxd = fmax(maxd, fabs(c[i] - c3[i])); maxf = fmax(maxf, fabs(c[i] - c2[i]));
        }
        if (maxf > 1e-3 * maxc) fprintf(stderr, "%ldx%ldx%ld: oneDNN fp32 differs from sgemm by %g\n", m, k, n, maxf / maxc);
        double g1 = flops / median(t1, reps) / 1e9, g2 = flops / median(t2, reps) / 1e9, g3 = flops / median(t3, reps) / 1e9;
        char name[40]; snprintf(name, sizeof name, "%ld×%ld×%ld", m, k, n);
        printf("%-18s %9.1f GF %9.1f GF %9.1f GF %9.2f× %12.2e\n", name, g1, g2, g3, g3 / g1, maxd / maxc);
        free(a); free(b); free(c); free(c2); free(c3); free(ah); free(bh);
    }
    return 0;
}
