// Row kernels over [rows, cols] (softmax, log-softmax, LayerNorm, bias rows).
// Included by kernels_<isa>.c; FLB_FN and the target come from there.
// Partial tails load a neutral fill (−inf for maxima, 0 for sums, the mean for variances).

// ---- bias rows ----
void FLB_FN(flb_add_bias_rows)(float *y, const float *bias, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *yr = y + r * cols;
        long c = 0;
        for (; c + FLB_W <= cols; c += FLB_W) vstore(yr + c, vload(yr + c) + vload(bias + c));
        for (; c < cols; c++) yr[c] += bias[c];
    }
}

// out[c] += Σ_r x[r, c]. Column chunks of 128 (8 vector accumulators); rows summed in blocks of
// 32 into registers, block sums added into a chunk total, so rounding grows like 32 + rows/32.
void FLB_FN(flb_sum_rows_accumulate)(const float *x, float *out, long rows, long cols) {
    enum { CHUNK = 128, RB = 32 };
    for (long c0 = 0; c0 < cols; c0 += CHUNK) {
        long cw = cols - c0 < CHUNK ? cols - c0 : CHUNK;
        long nv = cw / FLB_W;  // full vectors in this chunk
        vf total[CHUNK / FLB_W];
        for (long v = 0; v < CHUNK / FLB_W; v++) total[v] = 0.0f;
        float total_tail[FLB_W] = {0};
        for (long r0 = 0; r0 < rows; r0 += RB) {
            long r1 = rows - r0 < RB ? rows : r0 + RB;
            vf acc[CHUNK / FLB_W];
            for (long v = 0; v < CHUNK / FLB_W; v++) acc[v] = 0.0f;
            float acc_tail[FLB_W] = {0};
            for (long r = r0; r < r1; r++) {
                const float *xr = x + r * cols + c0;
                for (long v = 0; v < nv; v++) acc[v] += vload(xr + v * FLB_W);
                for (long c = nv * FLB_W; c < cw; c++) acc_tail[c - nv * FLB_W] += xr[c];
            }
            for (long v = 0; v < nv; v++) total[v] += acc[v];
            for (long c = nv * FLB_W; c < cw; c++) total_tail[c - nv * FLB_W] += acc_tail[c - nv * FLB_W];
        }
        for (long v = 0; v < nv; v++) vstore(out + c0 + v * FLB_W, vload(out + c0 + v * FLB_W) + total[v]);
        for (long c = nv * FLB_W; c < cw; c++) out[c0 + c] += total_tail[c - nv * FLB_W];
    }
}

// ---- softmax ----
// y[r] = scale·x[r] + mask row, max tracked; then exp(y − max) and its sum; then y /= sum.
// Masked entries (−1e30, −FLT_MAX, −inf) give exp(< −87.3) = exactly 0. If the row max is −inf
// (every entry −inf) the row is uniform; a row of equal huge negatives is uniform by itself.
void FLB_FN(flb_softmax_forward)(const float *x, float *y, long rows, long cols, float scale,
                                 const float *additive_mask, long rows_per_mask) {
    if (rows_per_mask < 1) rows_per_mask = 1;
    long full = cols / FLB_W * FLB_W, k = cols - full;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        const float *mr = additive_mask ? additive_mask + (r / rows_per_mask) * cols : 0;
        vf mx = -INFINITY;
        long c = 0;
        for (; c < full; c += FLB_W) {
            vf v = scale * vload(xr + c);
            if (mr) v += vload(mr + c);
            vstore(yr + c, v);
            mx = vmax(mx, v);
        }
        if (k) {
            vf v = scale * vload_part(xr + c, k, 0.0f);
            if (mr) v += vload_part(mr + c, k, 0.0f);
            vstore_part(yr + c, v, k);
            const vf lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
            mx = vmax(mx, vselect(lane < (float)k, v, (vf)-INFINITY));
        }
        float m = vhmax(mx);
        if (m == -INFINITY) {
            float u = 1.0f / (float)cols;
            for (c = 0; c < cols; c++) yr[c] = u;
            continue;
        }
        vf sum = 0.0f;
        for (c = 0; c < full; c += FLB_W) {
            vf e = vexp(vload(yr + c) - m);
            vstore(yr + c, e);
            sum += e;
        }
        if (k) {
            vf e = vexp(vload_part(yr + c, k, -INFINITY) - m);
            vstore_part(yr + c, e, k);
            sum += e;
        }
        float inv = (float)(1.0 / vhsum(sum));
        for (c = 0; c < full; c += FLB_W) vstore(yr + c, vload(yr + c) * inv);
        for (; c < cols; c++) yr[c] *= inv;
    }
}

// Σ a·b over one row of `cols` (b == NULL: Σ a), vector lanes summed at the end.
FLB_INLINE float FLB_FN(flb_row_dot)(const float *a, const float *b, long cols) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    vf acc = 0.0f;
    long c = 0;
    if (b) {
        for (; c < full; c += FLB_W) acc += vload(a + c) * vload(b + c);
        if (k) acc += vload_part(a + c, k, 0.0f) * vload_part(b + c, k, 0.0f);
    } else {
        for (; c < full; c += FLB_W) acc += vload(a + c);
        if (k) acc += vload_part(a + c, k, 0.0f);
    }
    return (float)vhsum(acc);
}

// dx = scale · y ⊙ (dy − Σ dy·y)
void FLB_FN(flb_softmax_backward)(const float *y, const float *dy, float *dx, long rows, long cols, float scale) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * cols, *dr = dy + r * cols;
        float *xr = dx + r * cols;
        float dot = FLB_FN(flb_row_dot)(yr, dr, cols);
        long c = 0;
        for (; c < full; c += FLB_W) vstore(xr + c, scale * (vload(yr + c) * (vload(dr + c) - dot)));
        if (k) vstore_part(xr + c, scale * (vload_part(yr + c, k, 0.0f) * (vload_part(dr + c, k, 0.0f) - dot)), k);
    }
}

// y = x − max − log Σ exp(x − max). A row that is all −inf gives −log(cols) (uniform).
void FLB_FN(flb_log_softmax_forward)(const float *x, float *y, long rows, long cols) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        vf mx = -INFINITY;
        long c = 0;
        for (; c < full; c += FLB_W) mx = vmax(mx, vload(xr + c));
        if (k) mx = vmax(mx, vload_part(xr + c, k, -INFINITY));
        float m = vhmax(mx);
        if (m == -INFINITY) {
            float u = -logf((float)cols);
            for (c = 0; c < cols; c++) yr[c] = u;
            continue;
        }
        vf sum = 0.0f;
        for (c = 0; c < full; c += FLB_W) sum += vexp(vload(xr + c) - m);
        if (k) sum += vexp(vload_part(xr + c, k, -INFINITY) - m);
        float lse = (float)((double)m + log(vhsum(sum)));
        for (c = 0; c < full; c += FLB_W) vstore(yr + c, vload(xr + c) - lse);
        for (; c < cols; c++) yr[c] = xr[c] - lse;
    }
}

// dx = dy − exp(y) Σ dy
void FLB_FN(flb_log_softmax_backward)(const float *y, const float *dy, float *dx, long rows, long cols) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    for (long o = 0; o < rows * cols; o += cols) {   // o: the row's offset
        float s = FLB_FN(flb_row_dot)(dy + o, NULL, cols);
        long c = 0;
        for (; c < full; c += FLB_W) vstore(dx + o + c, vload(dy + o + c) - vexp(vload(y + o + c)) * s);
        if (k) vstore_part(dx + o + c, vload_part(dy + o + c, k, 0.0f) - vexp(vload_part(y + o + c, k, 0.0f)) * s, k);
    }
}

// ---- LayerNorm ----
// Two passes over the row (it stays in L1): mean, then Σ (x − mean)², both in float lanes summed
// into double. rstd = 1 / sqrt(var + eps). mean / rstd may be NULL (inference).
void FLB_FN(flb_layernorm_forward)(const float *x, const float *gamma, const float *beta, float *y,
                                   float *mean, float *rstd, long rows, long cols, float eps) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        vf acc = 0.0f;
        long c = 0;
        for (; c < full; c += FLB_W) acc += vload(xr + c);
        if (k) acc += vload_part(xr + c, k, 0.0f);
        float mu = (float)(vhsum(acc) / (double)cols);
        vf acc2 = 0.0f;
        for (c = 0; c < full; c += FLB_W) { vf d = vload(xr + c) - mu; acc2 += d * d; }
        if (k) { vf d = vload_part(xr + c, k, mu) - mu; acc2 += d * d; }
        float rs = (float)(1.0 / __builtin_elementwise_sqrt(vhsum(acc2) / (double)cols + (double)eps));
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
        for (c = 0; c < full; c += FLB_W)
            vstore(yr + c, ((vload(xr + c) - mu) * rs) * vload(gamma + c) + vload(beta + c));
        if (k)
            vstore_part(yr + c, ((vload_part(xr + c, k, mu) - mu) * rs) * vload_part(gamma + c, k, 0.0f)
                                    + vload_part(beta + c, k, 0.0f), k);
    }
}

// xhat = (x − mean)·rstd, g = dy·gamma:
// dx = rstd · (g − mean(g) − xhat · mean(g·xhat)); dgamma += dy·xhat; dbeta += dy.
void FLB_FN(flb_layernorm_backward)(const float *x, const float *gamma, const float *mean, const float *rstd,
                                    const float *dy, float *dx, float *dgamma, float *dbeta, long rows, long cols) {
    long full = cols / FLB_W * FLB_W, k = cols - full;
    float inv_n = 1.0f / (float)cols;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * cols, *dr = dy + r * cols;
        float *xo = dx + r * cols;
        float mu = mean[r], rs = rstd[r];
        vf s1 = 0.0f, s2 = 0.0f;
        long c = 0;
        for (; c < full; c += FLB_W) {
            vf xh = (vload(xr + c) - mu) * rs, d = vload(dr + c);
            vf g = d * vload(gamma + c);
            s1 += g;
            s2 += g * xh;
            vstore(dgamma + c, vload(dgamma + c) + d * xh);
            vstore(dbeta + c, vload(dbeta + c) + d);
        }
        if (k) {
            vf xh = (vload_part(xr + c, k, mu) - mu) * rs, d = vload_part(dr + c, k, 0.0f);
            vf g = d * vload_part(gamma + c, k, 0.0f);
            s1 += g;
            s2 += g * xh;
            vstore_part(dgamma + c, vload_part(dgamma + c, k, 0.0f) + d * xh, k);
            vstore_part(dbeta + c, vload_part(dbeta + c, k, 0.0f) + d, k);
        }
        float m1 = (float)vhsum(s1) * inv_n, m2 = (float)vhsum(s2) * inv_n;
        for (c = 0; c < full; c += FLB_W) {
            vf xh = (vload(xr + c) - mu) * rs;
            vf g = vload(dr + c) * vload(gamma + c);
            vstore(xo + c, rs * (g - m1 - xh * m2));
        }
        if (k) {
            vf xh = (vload_part(xr + c, k, mu) - mu) * rs;
            vf g = vload_part(dr + c, k, 0.0f) * vload_part(gamma + c, k, 0.0f);
            vstore_part(xo + c, rs * (g - m1 - xh * m2), k);
        }
    }
}
