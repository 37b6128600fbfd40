// Internal helpers for the kernels: a 16-lane float vector type, loads/stores with partial tails,
// selects, horizontal reductions, and vectorised exp / normal CDF / tanh.
//
// Included (through flb_impl_*.h) by each ISA variant file, inside a `#pragma clang attribute`
// region that sets the target, so every helper is compiled for that ISA: x86-64-v4 (AVX-512,
// one zmm register per vector), x86-64-v3 (AVX2 + FMA, two ymm), baseline (SSE2, four xmm).
// `a * b + c` is fused into an FMA where the variant has FMA (clang's default -ffp-contract=on).
// FLB_FN(name) gives the variant's symbol name (name_avx512, name_avx2, name_generic).
#ifndef FLB_VEC_H
#define FLB_VEC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// 512-bit vectors pass between always-inline helpers only, so the AVX2/SSE ABI note is moot.
#pragma clang diagnostic ignored "-Wpsabi"
#define FLB_INLINE static inline __attribute__((always_inline))

enum { FLB_W = 16 };  // lanes per vector
typedef float vf __attribute__((ext_vector_type(16)));
typedef int32_t vi __attribute__((ext_vector_type(16)));
typedef float vf8 __attribute__((ext_vector_type(8)));
typedef double vd8 __attribute__((ext_vector_type(8)));

FLB_INLINE vf vload(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
FLB_INLINE void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
// Loads k < 16 floats; the other lanes hold `fill`.
FLB_INLINE vf vload_part(const float *p, long k, float fill) {
    vf v = fill;
    for (long i = 0; i < k; i++) v[i] = p[i];
    return v;
}
FLB_INLINE void vstore_part(float *p, vf v, long k) {
    for (long i = 0; i < k; i++) p[i] = v[i];
}
// m lanes are all-ones or zero (the result of a vector comparison).
FLB_INLINE vf vselect(vi m, vf a, vf b) { return (vf)(((vi)a & m) | ((vi)b & ~m)); }
// NaN in `a` propagates (compare-and-select alone would replace it by `b`, hiding a diverged value).
FLB_INLINE vf vmax(vf a, vf b) { return vselect((a > b) | (a != a), a, b); }
FLB_INLINE vf vmin(vf a, vf b) { return vselect((a < b) | (a != a), a, b); }
FLB_INLINE vf vabs(vf a) { return (vf)((vi)a & 0x7fffffff); }
// The kernels take scalar square roots with __builtin_elementwise_sqrt as well: the correctly rounded
// sqrt instruction, without the errno branch that libm's sqrt / sqrtf carry under the default
// -fmath-errno (the target sets no flags of its own).
FLB_INLINE vf vsqrt(vf a) { return __builtin_elementwise_sqrt(a); }

FLB_INLINE float vhmax(vf v) {
    vf8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    vf8 b = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    float m = -INFINITY;
    for (int i = 0; i < 8; i++) {
        float c = (a[i] > b[i] || a[i] != a[i]) ? a[i] : b[i];
        m = (c > m || c != c) ? c : m;
    }
    return m;
}
// Sum of the 16 lanes, in double.
FLB_INLINE double vhsum(vf v) {
    vd8 a = __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), vd8);
    vd8 b = __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), vd8);
    vd8 s = a + b;
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// exp(x) with ~1 ulp relative error (Cephes expf polynomial after Cody–Waite reduction
// x = n ln2 + r, |r| ≤ ln2/2). Returns exactly 0 for x < −87.336 (and for −inf); x is clamped to 88,
// so larger arguments give exp(88) ≈ 1.65e38 instead of inf (callers only need "huge" there). NaN stays NaN.
FLB_INLINE vf vexp(vf x) {
    const float shifter = 12582912.0f;  // 1.5 · 2^23: adding it rounds to an integer
    vi under = x < -87.33654f;
    x = vmax(vmin(x, (vf)88.0f), (vf)-87.33654f);
    vf t = x * 1.44269504088896341f + shifter;
    vf n = t - shifter;
    vf r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    vf y = p * (r * r) + r + 1.0f;
    vi k = (vi)t - 0x4B400000;           // n as an integer, −126 … 127
    vf scale = (vf)((k + 127) << 23);    // 2^n
    return vselect(under, (vf)0.0f, y * scale);
}

// Standard normal CDF Φ(x) = ½ erfc(−x/√2), with absolute error ≲ 1e-7 and relative error ≲ 2e-7
// in the lower tail, and e = exp(−x²/2) as a by-product (the GELU backward reuses it).
// With z = |x|/√2 and t = 1 / (1 + z/2): erfc(z) = exp(−z²) · (1 + (t − 1) Q(t)), Q of degree 10,
// a near-minimax relative-error fit of erfcx on [0, 10] (max 1.7e-9; Lawson-weighted least squares
// in numpy against mpmath erfc·exp(z²) at 30 digits, computed once offline; coefficients rounded
// to float). The (t − 1) form makes Φ(0) exactly ½. Beyond z ≈ 9.3, exp(−z²) underflows to 0.
FLB_INLINE vf vnormcdf(vf x, vf *expo) {
    vf z = vabs(x) * 0.70710678118654752f;
    vf e = vexp(-0.5f * (x * x));
    *expo = e;
    vf t = 1.0f / (1.0f + 0.5f * z);
    vf q = 2.314510342e-02f;
    q = q * t - 8.961825751e-02f;
    q = q * t + 7.718141919e-02f;
    q = q * t + 1.303712808e-01f;
    q = q * t - 2.451358995e-01f;
    q = q * t + 3.697513708e-02f;
    q = q * t - 2.673121882e-02f;
    q = q * t + 1.980461451e-01f;
    q = q * t + 4.345195658e-01f;
    q = q * t + 7.180089575e-01f;
    q = q * t + 9.999964026e-01f;
    vf b = (t - 1.0f) * q + 1.0f;
    vf half_erfc = 0.5f * (e * b);
    return vselect(x > 0.0f, 1.0f - half_erfc, half_erfc);
}

// sigmoid(v) = 1 / (1 + exp(−v)); exact 0 / 1 limits up to float rounding.
FLB_INLINE vf vsigmoid(vf v) { return 1.0f / (1.0f + vexp(-v)); }

// tanh(x): |x| < 0.625: x + x³ P(x²) (Cephes tanhf, relative error ~1e-7), else
// sign(x) (1 − 2 / (exp(2|x|) + 1)).
FLB_INLINE vf vtanh(vf x) {
    vf ax = vabs(x);
    vf big = 1.0f - 2.0f / (vexp(2.0f * ax) + 1.0f);
    big = (vf)((vi)big | ((vi)x & (int32_t)0x80000000));
    vf z = x * x;
    vf p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z - 5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z - 3.33332819422e-1f;
    vf small = x + x * z * p;
    return vselect(ax < 0.625f, small, big);
}
#endif
