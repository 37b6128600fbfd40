// Elementwise kernels and activations, n elements. See include/freelb_kernels.h for the contract.
// Included by kernels_<isa>.c; FLB_FN and the target come from there.

// Applies EXPR (over vf A, B; result a vf) in full vectors, then once on the partial tail whose
// missing lanes hold FILL_A / FILL_B. Tail lanes use the same vector code, so results do not
// depend on where a range is split.
#define FLB_MAP2(A_PTR, B_PTR, Y_PTR, N, FILL_A, FILL_B, EXPR)                 \
    do {                                                                        \
        long i_ = 0;                                                            \
        for (; i_ + FLB_W <= (N); i_ += FLB_W) {                                \
            vf A = vload((A_PTR) + i_), B = vload((B_PTR) + i_);                \
            vstore((Y_PTR) + i_, (EXPR));                                       \
        }                                                                       \
        if (i_ < (N)) {                                                         \
            long k_ = (N) - i_;                                                 \
            vf A = vload_part((A_PTR) + i_, k_, FILL_A);                        \
            vf B = vload_part((B_PTR) + i_, k_, FILL_B);                        \
            vstore_part((Y_PTR) + i_, (EXPR), k_);                              \
        }                                                                       \
    } while (0)

#define FLB_MAP1(X_PTR, Y_PTR, N, EXPR)                                         \
    do {                                                                        \
        long i_ = 0;                                                            \
        for (; i_ + FLB_W <= (N); i_ += FLB_W) {                                \
            vf A = vload((X_PTR) + i_);                                         \
            vstore((Y_PTR) + i_, (EXPR));                                       \
        }                                                                       \
        if (i_ < (N)) {                                                         \
            vf A = vload_part((X_PTR) + i_, (N) - i_, 0.0f);                    \
            vstore_part((Y_PTR) + i_, (EXPR), (N) - i_);                        \
        }                                                                       \
    } while (0)

void FLB_FN(flb_add)(const float *a, const float *b, float *y, long n) { FLB_MAP2(a, b, y, n, 0.0f, 0.0f, A + B); }
void FLB_FN(flb_sub)(const float *a, const float *b, float *y, long n) { FLB_MAP2(a, b, y, n, 0.0f, 0.0f, A - B); }
void FLB_FN(flb_mul)(const float *a, const float *b, float *y, long n) { FLB_MAP2(a, b, y, n, 0.0f, 0.0f, A * B); }
void FLB_FN(flb_div)(const float *a, const float *b, float *y, long n) { FLB_MAP2(a, b, y, n, 0.0f, 1.0f, A / B); }
void FLB_FN(flb_scale)(const float *x, float s, float *y, long n) { FLB_MAP1(x, y, n, A * s); }
void FLB_FN(flb_axpy)(float a, const float *x, float *y, long n) { FLB_MAP2(x, y, y, n, 0.0f, 0.0f, a * A + B); }
void FLB_FN(flb_add_inplace)(float *y, const float *x, long n) { FLB_MAP2(y, x, y, n, 0.0f, 0.0f, A + B); }

void FLB_FN(flb_mul_accumulate)(const float *a, const float *b, float *y, long n) {
    long i = 0;
    for (; i + FLB_W <= n; i += FLB_W) vstore(y + i, vload(a + i) * vload(b + i) + vload(y + i));
    if (i < n) {
        long k = n - i;
        vstore_part(y + i, vload_part(a + i, k, 0) * vload_part(b + i, k, 0) + vload_part(y + i, k, 0), k);
    }
}

void FLB_FN(flb_fill)(float *y, float value, long n) {
    vf v = value;
    long i = 0;
    for (; i + FLB_W <= n; i += FLB_W) vstore(y + i, v);
    for (; i < n; i++) y[i] = value;
}

// ---- GELU (erf): y = x Φ(x), Φ the standard normal CDF; gelu'(x) = Φ(x) + x φ(x) ----
#define FLB_INV_SQRT_2PI 0.39894228040143268f

FLB_INLINE vf gelu_erf(vf x) {
    vf e;
    return x * vnormcdf(x, &e);
}
FLB_INLINE vf gelu_erf_grad(vf x, vf dy) {
    vf e;
    vf cdf = vnormcdf(x, &e);
    return dy * (cdf + x * (e * FLB_INV_SQRT_2PI));
}
void FLB_FN(flb_gelu_erf_forward)(const float *x, float *y, long n) { FLB_MAP1(x, y, n, gelu_erf(A)); }
void FLB_FN(flb_gelu_erf_backward)(const float *x, const float *dy, float *dx, long n) {
    FLB_MAP2(x, dy, dx, n, 0.0f, 0.0f, gelu_erf_grad(A, B));
}

// ---- GELU (tanh): ½ x (1 + tanh u) = x · sigmoid(2u), u = √(2/π) (x + 0.044715 x³) ----
// d/dx = s + x · 2 s (1 − s) · √(2/π) (1 + 3 · 0.044715 x²), s = sigmoid(2u).
// x is clamped to ±20 inside u (beyond, s is 0 or 1 to float precision), so x³ cannot overflow.
#define FLB_SQRT_2_OVER_PI 0.79788456080286536f
// s = sigmoid(2u) = 1 / (1 + E), E = exp(−2u); 1 − s = E · s keeps precision where s → 1.
FLB_INLINE vf gelu_tanh_s(vf xc, vf *one_minus_s) {
    vf u = FLB_SQRT_2_OVER_PI * (xc + 0.044715f * (xc * xc * xc));
    vf e = vexp(-2.0f * u);
    vf s = 1.0f / (1.0f + e);
    *one_minus_s = e * s;
    return s;
}
FLB_INLINE vf clamp20(vf x) { return vmax(vmin(x, (vf)20.0f), (vf)-20.0f); }
// Below −20, s is clamped at exp(−88) instead of ~e^−600, so the product is set to 0 there.
FLB_INLINE vf gelu_tanh(vf x) {
    vf oms;
    return vselect(x < -20.0f, (vf)0.0f, x * gelu_tanh_s(clamp20(x), &oms));
}
FLB_INLINE vf gelu_tanh_grad(vf x, vf dy) {
    vf xc = clamp20(x), oms;
    vf s = gelu_tanh_s(xc, &oms);
    vf du = FLB_SQRT_2_OVER_PI * (1.0f + (3.0f * 0.044715f) * (xc * xc));
    return dy * (s + xc * (2.0f * s * oms) * du);
}
void FLB_FN(flb_gelu_tanh_forward)(const float *x, float *y, long n) { FLB_MAP1(x, y, n, gelu_tanh(A)); }
void FLB_FN(flb_gelu_tanh_backward)(const float *x, const float *dy, float *dx, long n) {
    FLB_MAP2(x, dy, dx, n, 0.0f, 0.0f, gelu_tanh_grad(A, B));
}

void FLB_FN(flb_tanh_forward)(const float *x, float *y, long n) { FLB_MAP1(x, y, n, vtanh(A)); }
void FLB_FN(flb_tanh_backward)(const float *y, const float *dy, float *dx, long n) {
    FLB_MAP2(y, dy, dx, n, 0.0f, 0.0f, B * (1.0f - A * A));
}

// relu(NaN) = NaN, as in PyTorch.
void FLB_FN(flb_relu_forward)(const float *x, float *y, long n) {
    FLB_MAP1(x, y, n, vselect(A < 0.0f, (vf)0.0f, A));
}
void FLB_FN(flb_relu_backward)(const float *x, const float *dy, float *dx, long n) {
    FLB_MAP2(x, dy, dx, n, 0.0f, 0.0f, vselect(A > 0.0f, B, (vf)0.0f));
}
