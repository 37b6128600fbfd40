// bf16 GEMMs on oneDNN's matmul (bf16 inputs, fp32 accumulation and output), loaded at run time with
// dlopen, so the package builds and its fp32 path runs where oneDNN is absent.
#ifndef FREELB_DNNL_H
#define FREELB_DNNL_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU executes AVX512-BF16 (vdpbf16ps) natively.
int flb_cpu_has_avx512_bf16(void);

/// Loads oneDNN (once; thread-safe). Returns 0 when bf16 GEMMs can run; otherwise nonzero and a reason
/// in `reason` (a NUL-terminated message of at most `reason_size` bytes).
int flb_bf16_load(char *reason, int reason_size);

/// C[m, n] = op(A) op(B) (+ C when `accumulate`, + bias[n] on every row when `bias` is not NULL; not both),
/// row-major. op(A) is [m, k] (A stored [k, m] when `trans_a`), op(B) is [k, n] (B stored [n, k] when
/// `trans_b`). A and B are bf16, C and the bias fp32.
/// Runs single-threaded in the calling thread; callers split large products over their threads.
/// Returns 0, or a oneDNN status on failure. Needs a successful flb_bf16_load.
int flb_bf16_gemm(int trans_a, int trans_b, long m, long n, long k, const uint16_t *a, long lda,
                  const uint16_t *b, long ldb, float *c, long ldc, int accumulate, const float *bias);

/// The oneDNN implementation chosen for that product's shape (for benchmarks and tests), e.g.
/// "brg:avx512_core_bf16"; empty when none.
void flb_bf16_gemm_implementation(int trans_a, int trans_b, long m, long n, long k, long lda, long ldb,
                                  long ldc, char *name, int name_size);

/// dst[i] = src[i] rounded to the nearest bf16 (ties to even; NaN stays NaN; fp32 subnormals become signed
/// zero, as the AVX512-BF16 instruction does, so every CPU and every tail rounds alike).
void flb_f32_to_bf16(const float *src, uint16_t *dst, long count);

/// dst[i] = src[i] widened to fp32 (exact).
void flb_bf16_to_f32(const uint16_t *src, float *dst, long count);

#ifdef __cplusplus
}
#endif
#endif
