// SIMD float32 kernels for the FreeLB tensor engine. All pointers are contiguous row-major buffers.
// Every kernel works on a sub-range so that the Swift side can split work over threads.
// Outputs may alias their same-shaped inputs exactly (y == x, in-place) for every elementwise and row kernel
// (the engine relies on in-place softmax forward/backward and mul); partial overlaps are not allowed. "accumulate" means +=, otherwise outputs are overwritten.
#ifndef FREELB_KERNELS_H
#define FREELB_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- elementwise, n elements ----
void flb_add(const float *a, const float *b, float *y, long n);            // y = a + b
void flb_sub(const float *a, const float *b, float *y, long n);            // y = a - b
void flb_mul(const float *a, const float *b, float *y, long n);            // y = a * b
void flb_div(const float *a, const float *b, float *y, long n);            // y = a / b
void flb_scale(const float *x, float s, float *y, long n);                 // y = s * x (y may alias x)
void flb_axpy(float a, const float *x, float *y, long n);                  // y += a * x
void flb_add_inplace(float *y, const float *x, long n);                    // y += x
void flb_mul_accumulate(const float *a, const float *b, float *y, long n); // y += a * b
void flb_fill(float *y, float value, long n);

// GELU, exact erf form: 0.5 x (1 + erf(x / sqrt 2)); max abs error vs double ≤ 2e-7 · max(1,|y|).
void flb_gelu_erf_forward(const float *x, float *y, long n);
// dx = dy · gelu'(x)  (overwrite)
void flb_gelu_erf_backward(const float *x, const float *dy, float *dx, long n);
// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void flb_gelu_tanh_forward(const float *x, float *y, long n);
void flb_gelu_tanh_backward(const float *x, const float *dy, float *dx, long n);
void flb_tanh_forward(const float *x, float *y, long n);
// dx = dy · (1 - y²), from the forward output y
void flb_tanh_backward(const float *y, const float *dy, float *dx, long n);
void flb_relu_forward(const float *x, float *y, long n);
void flb_relu_backward(const float *x, const float *dy, float *dx, long n);

// ---- bias rows: [rows, cols] ----
void flb_add_bias_rows(float *y, const float *bias, long rows, long cols);        // y[r, :] += bias
void flb_sum_rows_accumulate(const float *x, float *out, long rows, long cols);   // out[c] += Σ_r x[r, c]

// ---- softmax over the last axis, [rows, cols] ----
// y[r, :] = softmax(scale · x[r, :] + mask[r / rows_per_mask, :]); mask may be NULL (then no mask).
// A row whose every entry is -inf-like still gives a finite result (uniform over the row).
void flb_softmax_forward(const float *x, float *y, long rows, long cols, float scale,
                         const float *additive_mask, long rows_per_mask);
// dx[r, :] = scale · y ⊙ (dy − Σ_c dy·y)  (overwrite)
void flb_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols, float scale);
// log-softmax over rows and its backward: dx = dy − exp(y) Σ_c dy
void flb_log_softmax_forward(const float *x, float *y, long rows, long cols);
void flb_log_softmax_backward(const float *y, const float *dy, float *dx, long rows, long cols);

// ---- LayerNorm over the last axis, [rows, cols], biased variance ----
// y = (x − mean) · rstd · gamma + beta; saves mean[rows] and rstd[rows] for backward.
void flb_layernorm_forward(const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *rstd, long rows, long cols, float eps);
// dx (overwrite); dgamma, dbeta accumulate (+=) Σ over the given rows.
void flb_layernorm_backward(const float *x, const float *gamma, const float *mean, const float *rstd,
                            const float *dy, float *dx, float *dgamma, float *dbeta, long rows, long cols);

// ---- reductions ----
double flb_sum(const float *x, long n);
double flb_sum_squares(const float *x, long n);
float flb_max_abs(const float *x, long n);
/// Number of NaN or infinite elements.
long flb_count_nonfinite(const float *x, long n);
double flb_dot(const float *a, const float *b, long n);

// ---- optimizer ----
// PyTorch AdamW for one tensor: p *= (1 − lr·wd); m = b1 m + (1−b1) g; v = b2 v + (1−b2) g²;
// p −= lr / bias1 · m / (sqrt(v) / sqrt(bias2) + eps), with bias1 = 1 − b1^t, bias2 = 1 − b2^t.
void flb_adamw_step(float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                    float beta2, float eps, float weight_decay, float bias1, float bias2);

// ---- dropout ----
// mask[i] = (u_i < keep_prob) ? scale : 0, u_i uniform in [0, 1) (24-bit) from a counter-based hash
// of (seed, stream_offset + i) (splitmix64). Deterministic; element i depends only on the counter, so
// threads may fill disjoint ranges by passing their own stream_offset. Dropout: y = x ⊙ mask (flb_mul).
void flb_bernoulli_mask(uint64_t seed, uint64_t stream_offset, float keep_prob, float scale, float *mask, long n);

// ---- variants ----
// Each kernel is built three times from the same source (flb_impl_*.h, included by kernels_avx512.c,
// kernels_avx2.c, kernels_generic.c with a per-file target); dispatch.c picks one at load time from
// the CPU. FLB_KERNEL_ISA=avx2|generic in the environment forces a lower one.
// Which variant is in use: "avx512", "avx2" or "generic".
const char *flb_kernel_isa(void);
// Switches every kernel to "avx512", "avx2" or "generic" (NULL: the best the CPU has); returns 0 and
// changes nothing when the CPU lacks it. Not thread-safe: for tests and benchmarks, before any work.
int flb_kernel_select_isa(const char *isa);

#ifdef __cplusplus
}
#endif
#endif
