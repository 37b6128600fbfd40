// Reductions, AdamW and the Bernoulli (dropout) mask.
// Included by kernels_<isa>.c; FLB_FN and the target come from there.

// Reductions: float lanes over blocks of 1024 elements, each block's lanes added into a double.
enum { FLB_RED_BLOCK = 1024 };
#define FLB_REDUCE(N, LOAD_TERM, PART_TERM)                                     \
    double total_ = 0.0;                                                        \
    long i_ = 0;                                                                \
    while (i_ + FLB_W <= (N)) {                                                 \
        long end_ = i_ + FLB_RED_BLOCK < (N) ? i_ + FLB_RED_BLOCK : (N);        \
        vf acc0_ = 0.0f, acc1_ = 0.0f;                                          \
        for (; i_ + 2 * FLB_W <= end_; i_ += 2 * FLB_W) {                       \
            { long i = i_; acc0_ += LOAD_TERM; }                                \
            { long i = i_ + FLB_W; acc1_ += LOAD_TERM; }                        \
        }                                                                       \
        for (; i_ + FLB_W <= end_; i_ += FLB_W) { long i = i_; acc0_ += LOAD_TERM; } \
        total_ += vhsum(acc0_ + acc1_);                                         \
    }                                                                           \
    for (; i_ < (N); i_++) { long i = i_; total_ += (double)(PART_TERM); }      \
    return total_;

double FLB_FN(flb_sum)(const float *x, long n) { FLB_REDUCE(n, vload(x + i), x[i]) }
double FLB_FN(flb_sum_squares)(const float *x, long n) {
    FLB_REDUCE(n, vload(x + i) * vload(x + i), (double)x[i] * (double)x[i])
}
double FLB_FN(flb_dot)(const float *a, const float *b, long n) {
    FLB_REDUCE(n, vload(a + i) * vload(b + i), (double)a[i] * (double)b[i])
}

float FLB_FN(flb_max_abs)(const float *x, long n) {
    vf m = 0.0f;
    long i = 0;
    for (; i + FLB_W <= n; i += FLB_W) m = vmax(m, vabs(vload(x + i)));
    float r = vhmax(m);
    for (; i < n; i++) r = (fabsf(x[i]) > r || x[i] != x[i]) ? fabsf(x[i]) : r;
    return r;
}

// Elements that are NaN or ±inf (x − x is NaN exactly for those).
long FLB_FN(flb_count_nonfinite)(const float *x, long n) {
    vi bad = 0;
    long i = 0;
    for (; i + FLB_W <= n; i += FLB_W) {
        vf v = vload(x + i);
        vf d = v - v;
        bad -= (d != d);   // a true lane is −1
    }
    long count = 0;
    for (int k = 0; k < FLB_W; k++) count += bad[k];
    for (; i < n; i++) count += (x[i] - x[i]) != (x[i] - x[i]);
    return count;
}

// PyTorch's AdamW order of operations (torch.optim.adamw, single tensor, non-fused).
void FLB_FN(flb_adamw_step)(float *p, const float *g, float *m, float *v, long n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float bias1, float bias2) {
    float decay = 1.0f - lr * weight_decay;
    float step = lr / bias1;
    float inv_sqrt_b2 = (float)(1.0 / __builtin_elementwise_sqrt((double)bias2));
    long i = 0;
    for (; i + FLB_W <= n; i += FLB_W) {
        vf gi = vload(g + i);
        vf mi = beta1 * vload(m + i) + (1.0f - beta1) * gi;
        vf vi_ = beta2 * vload(v + i) + (1.0f - beta2) * (gi * gi);
        vf denom = vsqrt(vi_) * inv_sqrt_b2 + eps;
        vstore(m + i, mi);
        vstore(v + i, vi_);
        vstore(p + i, vload(p + i) * decay - step * (mi / denom));
    }
    for (; i < n; i++) {
        float mi = beta1 * m[i] + (1.0f - beta1) * g[i];
        float vi_ = beta2 * v[i] + (1.0f - beta2) * (g[i] * g[i]);
        float denom = __builtin_elementwise_sqrt(vi_) * inv_sqrt_b2 + eps;
        m[i] = mi;
        v[i] = vi_;
        p[i] = p[i] * decay - step * (mi / denom);
    }
}

// ---- Bernoulli mask ----
// u_i = top 24 bits of splitmix64(key + (offset + i + 1) · γ) / 2^24, key = splitmix64(seed ⊕ c).
// Each element depends only on (seed, offset + i), so ranges can be generated in any split.
typedef uint64_t vu64 __attribute__((ext_vector_type(8)));
typedef float vf8f __attribute__((ext_vector_type(8)));
typedef int32_t vi8 __attribute__((ext_vector_type(8)));
#define FLB_GOLDEN 0x9E3779B97F4A7C15ull

FLB_INLINE uint64_t flb_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
FLB_INLINE vu64 flb_mix64v(vu64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void FLB_FN(flb_bernoulli_mask)(uint64_t seed, uint64_t stream_offset, float keep_prob, float scale,
                                float *mask, long n) {
    const uint64_t key = flb_mix64(seed ^ 0x6A09E667F3BCC909ull);
    const float inv24 = 1.0f / 16777216.0f;
    const vu64 lane = {1, 2, 3, 4, 5, 6, 7, 8};
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        vu64 ctr = (vu64)(stream_offset + (uint64_t)i) + lane;
        vu64 h = flb_mix64v((vu64)key + ctr * FLB_GOLDEN);
        vf8f u = __builtin_convertvector(__builtin_convertvector(h >> 40, vi8), vf8f) * inv24;
        vi8 keep = u < keep_prob;
        vf8f out = (vf8f)((vi8)((vf8f)scale) & keep);
        memcpy(mask + i, &out, sizeof out);
    }
    for (; i < n; i++) {
        uint64_t h = flb_mix64(key + (stream_offset + (uint64_t)i + 1) * FLB_GOLDEN);
        float u = (float)(int32_t)(h >> 40) * inv24;
        mask[i] = u < keep_prob ? scale : 0.0f;
    }
}
