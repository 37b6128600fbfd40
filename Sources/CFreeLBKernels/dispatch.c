// Public entry points: each forwards to the variant picked once at load time (a constructor checks
// the CPU): AVX-512 (F, BW, DQ, VL), AVX2 + FMA, else the baseline. FLB_KERNEL_ISA=generic|avx2
// in the environment forces a lower variant (for testing and benchmarking the fallbacks).
#include <stdlib.h>
#include <string.h>
#include "freelb_kernels.h"

// X(name, (params), (args)) for void kernels, R(type, name, (params), (args)) for the others.
#define FLB_VOID_KERNELS(X)                                                                          \
    X(flb_add, (const float *a, const float *b, float *y, long n), (a, b, y, n))                     \
    X(flb_sub, (const float *a, const float *b, float *y, long n), (a, b, y, n))                     \
    X(flb_mul, (const float *a, const float *b, float *y, long n), (a, b, y, n))                     \
    X(flb_div, (const float *a, const float *b, float *y, long n), (a, b, y, n))                     \
    X(flb_scale, (const float *x, float s, float *y, long n), (x, s, y, n))                          \
    X(flb_axpy, (float a, const float *x, float *y, long n), (a, x, y, n))                           \
    X(flb_add_inplace, (float *y, const float *x, long n), (y, x, n))                                \
    X(flb_mul_accumulate, (const float *a, const float *b, float *y, long n), (a, b, y, n))          \
    X(flb_fill, (float *y, float value, long n), (y, value, n))                                      \
    X(flb_gelu_erf_forward, (const float *x, float *y, long n), (x, y, n))                           \
    X(flb_gelu_erf_backward, (const float *x, const float *dy, float *dx, long n), (x, dy, dx, n))   \
    X(flb_gelu_tanh_forward, (const float *x, float *y, long n), (x, y, n))                          \
    X(flb_gelu_tanh_backward, (const float *x, const float *dy, float *dx, long n), (x, dy, dx, n))  \
    X(flb_tanh_forward, (const float *x, float *y, long n), (x, y, n))                               \
    X(flb_tanh_backward, (const float *y, const float *dy, float *dx, long n), (y, dy, dx, n))       \
    X(flb_relu_forward, (const float *x, float *y, long n), (x, y, n))                               \
    X(flb_relu_backward, (const float *x, const float *dy, float *dx, long n), (x, dy, dx, n))       \
    X(flb_add_bias_rows, (float *y, const float *bias, long rows, long cols), (y, bias, rows, cols)) \
    X(flb_sum_rows_accumulate, (const float *x, float *out, long rows, long cols), (x, out, rows, cols)) \
    X(flb_softmax_forward,                                                                           \
      (const float *x, float *y, long rows, long cols, float scale, const float *additive_mask,      \
       long rows_per_mask),                                                                          \
      (x, y, rows, cols, scale, additive_mask, rows_per_mask))                                       \
    X(flb_softmax_backward, (const float *y, const float *dy, float *dx, long rows, long cols, float scale), \
      (y, dy, dx, rows, cols, scale))                                                                \
    X(flb_log_softmax_forward, (const float *x, float *y, long rows, long cols), (x, y, rows, cols)) \
    X(flb_log_softmax_backward, (const float *y, const float *dy, float *dx, long rows, long cols),  \
      (y, dy, dx, rows, cols))                                                                       \
    X(flb_layernorm_forward,                                                                         \
      (const float *x, const float *gamma, const float *beta, float *y, float *mean, float *rstd,    \
       long rows, long cols, float eps),                                                             \
      (x, gamma, beta, y, mean, rstd, rows, cols, eps))                                              \
    X(flb_layernorm_backward,                                                                        \
      (const float *x, const float *gamma, const float *mean, const float *rstd, const float *dy,    \
       float *dx, float *dgamma, float *dbeta, long rows, long cols),                                \
      (x, gamma, mean, rstd, dy, dx, dgamma, dbeta, rows, cols))                                     \
    X(flb_adamw_step,                                                                                \
      (float *p, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2,     \
       float eps, float weight_decay, float bias1, float bias2),                                     \
      (p, g, m, v, n, lr, beta1, beta2, eps, weight_decay, bias1, bias2))                            \
    X(flb_bernoulli_mask,                                                                            \
      (uint64_t seed, uint64_t stream_offset, float keep_prob, float scale, float *mask, long n),    \
      (seed, stream_offset, keep_prob, scale, mask, n))

#define FLB_VALUE_KERNELS(R)                                                                         \
    R(double, flb_sum, (const float *x, long n), (x, n))                                             \
    R(double, flb_sum_squares, (const float *x, long n), (x, n))                                     \
    R(float, flb_max_abs, (const float *x, long n), (x, n))                                          \
    R(long, flb_count_nonfinite, (const float *x, long n), (x, n))                                   \
    R(double, flb_dot, (const float *a, const float *b, long n), (a, b, n))

#if defined(__x86_64__) && defined(__clang__)
#define FLB_HAVE_X86_VARIANTS 1
#define FLB_DECL_VARIANTS(type, name, params) type name##_avx512 params; type name##_avx2 params; type name##_generic params;
#else
#define FLB_DECL_VARIANTS(type, name, params) type name##_generic params;
#endif

#define FLB_DEFINE_VOID(name, params, args)                                                         \
    FLB_DECL_VARIANTS(void, name, params)                                                            \
    static void(*name##_impl) params = name##_generic;                                               \
    void name params { name##_impl args; }
#define FLB_DEFINE_VALUE(type, name, params, args)                                                  \
    FLB_DECL_VARIANTS(type, name, params)                                                            \
    static type(*name##_impl) params = name##_generic;                                               \
    type name params { return name##_impl args; }
FLB_VOID_KERNELS(FLB_DEFINE_VOID)
FLB_VALUE_KERNELS(FLB_DEFINE_VALUE)

static const char *flb_isa = "generic";
const char *flb_kernel_isa(void) { return flb_isa; }

#ifdef FLB_HAVE_X86_VARIANTS
#define FLB_USE_VOID(name, params, args) name##_impl = FLB_PASTE(name, FLB_SEL);
#define FLB_USE_VALUE(type, name, params, args) name##_impl = FLB_PASTE(name, FLB_SEL);
#define FLB_PASTE2(a, b) a##b
#define FLB_PASTE(a, b) FLB_PASTE2(a, b)

static int flb_select(const char *force) {
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (force && strcmp(force, "generic") == 0) avx512 = avx2 = 0;
    if (force && strcmp(force, "avx2") == 0) {
        if (!avx2) return 0;
        avx512 = 0;
    }
    if (force && strcmp(force, "avx512") == 0 && !avx512) return 0;
    if (avx512) {
#define FLB_SEL _avx512
        FLB_VOID_KERNELS(FLB_USE_VOID)
        FLB_VALUE_KERNELS(FLB_USE_VALUE)
#undef FLB_SEL
        flb_isa = "avx512";
    } else if (avx2) {
#define FLB_SEL _avx2
        FLB_VOID_KERNELS(FLB_USE_VOID)
        FLB_VALUE_KERNELS(FLB_USE_VALUE)
#undef FLB_SEL
        flb_isa = "avx2";
    } else {
#define FLB_SEL _generic
        FLB_VOID_KERNELS(FLB_USE_VOID)
        FLB_VALUE_KERNELS(FLB_USE_VALUE)
#undef FLB_SEL
        flb_isa = "generic";
    }
    return 1;
}

__attribute__((constructor)) static void flb_pick_variant(void) { flb_select(getenv("FLB_KERNEL_ISA")); }

int flb_kernel_select_isa(const char *isa) { return flb_select(isa); }
#else
int flb_kernel_select_isa(const char *isa) { return isa == 0 || strcmp(isa, "generic") == 0; }
#endif
