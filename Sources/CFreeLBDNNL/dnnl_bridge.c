// oneDNN matmul with bf16 inputs for the engine's bf16 precision. The library is opened with dlopen
// on first use: no link-time dependency, and the calls run single-threaded in each calling thread
// (the engine splits products over its own threads, as it does for OpenBLAS).
#define _GNU_SOURCE
#include "freelb_dnnl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#define FLB_HAVE_DNNL_HEADER 1
#else
#define FLB_HAVE_DNNL_HEADER 0
#endif

int flb_cpu_has_avx512_bf16(void) {
#if defined(__x86_64__)
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__builtin_cpu_supports("avx512f")) return 0;   // also checks that the OS saves zmm state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    return (eax >> 5) & 1;   // CPUID.(EAX=7,ECX=1):EAX[5] = AVX512_BF16
#else
    return 0;
#endif
}

// ---- fp32 <-> bf16 ----

static void f32_to_bf16_portable(const float *src, uint16_t *dst, long count) {
    for (long i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, src + i, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            dst[i] = (uint16_t)((u >> 16) | 0x40);   // quiet NaN, sign kept
        } else if ((u & 0x7f800000u) == 0) {
            dst[i] = (uint16_t)((u >> 16) & 0x8000);   // subnormals flush to signed zero, as vcvtneps2bf16 does
        } else {
            u += 0x7fffu + ((u >> 16) & 1u);   // round to nearest, ties to even
            dst[i] = (uint16_t)(u >> 16);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bf16,avx512vl"))) static void f32_to_bf16_avx512(const float *src, uint16_t *dst,
                                                                                       long count) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256bh packed = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)packed);
    }
    f32_to_bf16_portable(src + i, dst + i, count - i);
}
#endif

void flb_f32_to_bf16(const float *src, uint16_t *dst, long count) {
#if defined(__x86_64__)
    static int native = -1;
    if (native < 0) native = flb_cpu_has_avx512_bf16();
    if (native) {
        f32_to_bf16_avx512(src, dst, count);
        return;
    }
#endif
    f32_to_bf16_portable(src, dst, count);
}

void flb_bf16_to_f32(const uint16_t *src, float *dst, long count) {
    for (long i = 0; i < count; i++) {
        uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, 4);
    }
}

#if FLB_HAVE_DNNL_HEADER

// ---- oneDNN, loaded at run time ----

#define FLB_DNNL_FUNCTIONS(X)                                                                                        \
    X(dnnl_engine_create) X(dnnl_stream_create) X(dnnl_stream_wait) X(dnnl_memory_desc_init_by_strides)              \
    X(dnnl_matmul_desc_init) X(dnnl_primitive_attr_create) X(dnnl_primitive_attr_destroy)                            \
    X(dnnl_primitive_attr_set_post_ops) X(dnnl_post_ops_create) X(dnnl_post_ops_destroy) X(dnnl_post_ops_append_sum)  \
    X(dnnl_primitive_desc_create) X(dnnl_primitive_desc_query) X(dnnl_primitive_desc_destroy) X(dnnl_primitive_create) \
    X(dnnl_memory_create) X(dnnl_memory_set_data_handle) X(dnnl_primitive_execute) X(dnnl_memory_destroy)         \
    X(dnnl_primitive_destroy)

static struct {
#define FLB_DECLARE(name) __typeof__(name) *name;
    FLB_DNNL_FUNCTIONS(FLB_DECLARE)
#undef FLB_DECLARE
    void (*omp_set_num_threads)(int);
    dnnl_engine_t engine;
    int status;   // 0 loaded, else failed
    char reason[512];
} api;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load_library(void) {
    api.status = 1;
    const char *disabled = getenv("FREELB_DISABLE_BF16");
    if (disabled && *disabled && strcmp(disabled, "0") != 0) {
        snprintf(api.reason, sizeof api.reason, "disabled by FREELB_DISABLE_BF16");
        return;
    }
    if (!flb_cpu_has_avx512_bf16()) {
        snprintf(api.reason, sizeof api.reason,
                 "this CPU has no AVX512-BF16 instructions (avx512_bf16 in /proc/cpuinfo), so bf16 GEMMs would be "
                 "emulated and slower than fp32");
        return;
    }
    const char *path = getenv("FREELB_DNNL_LIBRARY");
    const char *candidates[] = {path, "libdnnl.so.2", "libdnnl.so", "libdnnl.2.dylib", "libdnnl.dylib"};
    void *handle = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && !handle; i++) {
        if (candidates[i]) handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!handle) {
        snprintf(api.reason, sizeof api.reason,
                 "oneDNN (libdnnl.so.2) could not be loaded: %s; install it with scripts/setup.sh "
                 "(apt-get install libdnnl-dev) or point FREELB_DNNL_LIBRARY at it",
                 dlerror());
        return;
    }
#define FLB_LOOKUP(name)                                                                                  \
    api.name = (__typeof__(name) *)dlsym(handle, #name);                                                  \
    if (!api.name) {                                                                                      \
        snprintf(api.reason, sizeof api.reason, "oneDNN has no %s (version 2.x is needed)", #name);       \
        return;                                                                                           \
    }
    FLB_DNNL_FUNCTIONS(FLB_LOOKUP)
#undef FLB_LOOKUP
    // oneDNN's OpenMP runtime: each calling thread runs its products on one thread.
    void *gomp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!gomp) gomp = dlopen("libomp.so", RTLD_NOW | RTLD_NOLOAD);
    if (gomp) api.omp_set_num_threads = (void (*)(int))dlsym(gomp, "omp_set_num_threads");
    if (api.dnnl_engine_create(&api.engine, dnnl_cpu, 0) != dnnl_success) {
        snprintf(api.reason, sizeof api.reason, "oneDNN could not create a CPU engine");
        return;
    }
    api.status = 0;
}

int flb_bf16_load(char *reason, int reason_size) {
    pthread_once(&load_once, load_library);
    if (api.status != 0 && reason && reason_size > 0) snprintf(reason, (size_t)reason_size, "%s", api.reason);
    return api.status;
}

typedef struct {
    int used, trans_a, trans_b, accumulate, has_bias;
    long m, n, k, lda, ldb, ldc;
    dnnl_primitive_t primitive;
    dnnl_primitive_desc_t description;
    dnnl_memory_t a, b, c, bias;
} cached_matmul;

enum { cache_size = 256 };
// Per thread: primitives are executed by the thread that built them, so no locks and no shared scratchpad.
static _Thread_local cached_matmul cache[cache_size];
static _Thread_local int cache_next;
static _Thread_local dnnl_stream_t thread_stream;
static _Thread_local int thread_ready;

static void release_matmul(cached_matmul *entry) {
    if (entry->primitive) api.dnnl_primitive_destroy(entry->primitive);
    if (entry->description) api.dnnl_primitive_desc_destroy(entry->description);
    dnnl_memory_t memories[4] = {entry->a, entry->b, entry->c, entry->bias};
    for (int i = 0; i < 4; i++)
        if (memories[i]) api.dnnl_memory_destroy(memories[i]);
    memset(entry, 0, sizeof *entry);
}

static int build_matmul(cached_matmul *entry, int trans_a, int trans_b, long m, long n, long k, long lda, long ldb,
                        long ldc, int accumulate, int has_bias) {
    dnnl_memory_desc_t a_desc, b_desc, c_desc, bias_desc;
    dnnl_dims_t bias_dims = {1, n}, bias_strides = {n, 1};
    dnnl_dims_t a_dims = {m, k}, b_dims = {k, n}, c_dims = {m, n};
    dnnl_dims_t a_strides = {trans_a ? 1 : lda, trans_a ? lda : 1};
    dnnl_dims_t b_strides = {trans_b ? 1 : ldb, trans_b ? ldb : 1};
    dnnl_dims_t c_strides = {ldc, 1};
    dnnl_status_t s;
    if ((s = api.dnnl_memory_desc_init_by_strides(&a_desc, 2, a_dims, dnnl_bf16, a_strides)) != dnnl_success) return s;
    if ((s = api.dnnl_memory_desc_init_by_strides(&b_desc, 2, b_dims, dnnl_bf16, b_strides)) != dnnl_success) return s;
    if ((s = api.dnnl_memory_desc_init_by_strides(&c_desc, 2, c_dims, dnnl_f32, c_strides)) != dnnl_success) return s;
    if (has_bias &&
        (s = api.dnnl_memory_desc_init_by_strides(&bias_desc, 2, bias_dims, dnnl_f32, bias_strides)) != dnnl_success)
        return s;
    dnnl_matmul_desc_t matmul;
    if ((s = api.dnnl_matmul_desc_init(&matmul, &a_desc, &b_desc, has_bias ? &bias_desc : NULL, &c_desc)) !=
        dnnl_success)
        return s;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t post_ops = NULL;
    if (accumulate) {   // C += A·B as a sum post-op
        if ((s = api.dnnl_primitive_attr_create(&attr)) != dnnl_success) return s;
        if ((s = api.dnnl_post_ops_create(&post_ops)) == dnnl_success &&
            (s = api.dnnl_post_ops_append_sum(post_ops, 1.0f)) == dnnl_success)
            s = api.dnnl_primitive_attr_set_post_ops(attr, post_ops);
        if (post_ops) api.dnnl_post_ops_destroy(post_ops);
        if (s != dnnl_success) {
            api.dnnl_primitive_attr_destroy(attr);
            return s;
        }
    }
    s = api.dnnl_primitive_desc_create(&entry->description, &matmul, attr, api.engine, NULL);
    if (attr) api.dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) return s;
    if ((s = api.dnnl_primitive_create(&entry->primitive, entry->description)) != dnnl_success) return s;
    if ((s = api.dnnl_memory_create(&entry->a, &a_desc, api.engine, DNNL_MEMORY_NONE)) != dnnl_success) return s;
    if ((s = api.dnnl_memory_create(&entry->b, &b_desc, api.engine, DNNL_MEMORY_NONE)) != dnnl_success) return s;
    if ((s = api.dnnl_memory_create(&entry->c, &c_desc, api.engine, DNNL_MEMORY_NONE)) != dnnl_success) return s;
    if (has_bias && (s = api.dnnl_memory_create(&entry->bias, &bias_desc, api.engine, DNNL_MEMORY_NONE)) != dnnl_success)
        return s;
    entry->used = 1;
    entry->trans_a = trans_a, entry->trans_b = trans_b, entry->accumulate = accumulate, entry->has_bias = has_bias;
    entry->m = m, entry->n = n, entry->k = k, entry->lda = lda, entry->ldb = ldb, entry->ldc = ldc;
    return 0;
}

static cached_matmul *find_matmul(int trans_a, int trans_b, long m, long n, long k, long lda, long ldb, long ldc,
                                  int accumulate, int has_bias, int *status) {
    *status = 0;
    if (!thread_ready) {
        if (api.omp_set_num_threads) api.omp_set_num_threads(1);
        if ((*status = api.dnnl_stream_create(&thread_stream, api.engine, dnnl_stream_default_flags)) != dnnl_success)
            return NULL;
        thread_ready = 1;
    }
    for (int i = 0; i < cache_size; i++) {
        cached_matmul *e = &cache[i];
        if (e->used && e->m == m && e->n == n && e->k == k && e->trans_a == trans_a && e->trans_b == trans_b &&
            e->lda == lda && e->ldb == ldb && e->ldc == ldc && e->accumulate == accumulate && e->has_bias == has_bias)
            return e;
    }
    // Miss: replace the oldest entry (batches grouped by length bring many shapes, so evicted primitives are
    // destroyed, as is whatever a failed build made).
    cached_matmul *entry = &cache[cache_next];
    cache_next = (cache_next + 1) % cache_size;
    release_matmul(entry);
    *status = build_matmul(entry, trans_a, trans_b, m, n, k, lda, ldb, ldc, accumulate, has_bias);
    if (*status != 0) {
        release_matmul(entry);
        return NULL;
    }
    return entry;
}

int flb_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const uint16_t *a, long lda, const uint16_t *b,
                  long ldb, float *c, long ldc, int accumulate, const float *bias) {
    if (m <= 0 || n <= 0) return 0;
    if (api.status != 0) return dnnl_runtime_error;
    if (bias && accumulate) return dnnl_invalid_arguments;
    if (k <= 0) {   // an empty sum
        for (long i = 0; i < m && !accumulate; i++) {
            if (bias) memcpy(c + i * ldc, bias, sizeof(float) * (size_t)n);
            else memset(c + i * ldc, 0, sizeof(float) * (size_t)n);
        }
        return 0;
    }
    int status;
    cached_matmul *entry = find_matmul(trans_a, trans_b, m, n, k, lda, ldb, ldc, accumulate, bias != NULL, &status);
    if (!entry) return status ? status : dnnl_runtime_error;
    api.dnnl_memory_set_data_handle(entry->a, (void *)a);
    api.dnnl_memory_set_data_handle(entry->b, (void *)b);
    api.dnnl_memory_set_data_handle(entry->c, c);
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, entry->a}, {DNNL_ARG_WEIGHTS, entry->b}, {DNNL_ARG_DST, entry->c},
                               {DNNL_ARG_BIAS, entry->bias}};
    if (bias) api.dnnl_memory_set_data_handle(entry->bias, (void *)bias);
    dnnl_status_t s = api.dnnl_primitive_execute(entry->primitive, thread_stream, bias ? 4 : 3, args);
    if (s == dnnl_success) s = api.dnnl_stream_wait(thread_stream);
    return s;
}

void flb_bf16_gemm_implementation(int trans_a, int trans_b, long m, long n, long k, long lda, long ldb, long ldc,
                                  char *name, int name_size) {
    if (name_size <= 0) return;
    name[0] = 0;
    if (api.status != 0) return;
    int status;
    cached_matmul *entry = find_matmul(trans_a, trans_b, m, n, k, lda, ldb, ldc, 0, 0, &status);
    const char *info = NULL;
    if (entry && api.dnnl_primitive_desc_query(entry->description, dnnl_query_impl_info_str, 0, &info) == dnnl_success &&
        info)
        snprintf(name, (size_t)name_size, "%s", info);
}

#else   // built without oneDNN's header: bf16 reports itself unavailable

int flb_bf16_load(char *reason, int reason_size) {
    if (reason && reason_size > 0)
        snprintf(reason, (size_t)reason_size, "this build has no oneDNN header (install libdnnl-dev and rebuild)");
    return 1;
}

int flb_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const uint16_t *a, long lda, const uint16_t *b,
                  long ldb, float *c, long ldc, int accumulate, const float *bias) {
    return 1;
}

void flb_bf16_gemm_implementation(int trans_a, int trans_b, long m, long n, long k, long lda, long ldb, long ldc,
                                  char *name, int name_size) {
    if (name_size > 0) name[0] = 0;
}

#endif
