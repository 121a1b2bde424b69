/*
 * PS_PATH_AVX2: x86-64 AVX2, compiled through function attributes so the rest of the
 * build stays baseline x86-64; run only where ps_kernel_path_supported(PS_PATH_AVX2)
 * says the CPU has it.
 *
 * conv2d, pointwise and fully connected are a GEMM: per call (and chunk of output
 * channels) the weights are packed on the stack as int16 pairs [K/2][channel][2], each
 * output pixel's receptive field is gathered as int16 (x - input_zp) (padding taps 0),
 * and VPMADDWD adds two exact int16 products per int32 lane, 8 output channels per
 * register, for up to 4 pixels x 16 channels at a time. (VPMADDUBSW would saturate
 * u8 x s8 pair sums, so it is not used.) Depthwise keeps channels in the lanes (8 per
 * register, VPMADDWD of int16 values in int32 lanes; interior pixels fold the input
 * zero point into the bias, bias - zp * sum(w)). Requantization (double or single rounding) is vectorised
 * over 8 channels with the 64-bit products of VPMULDQ; AVX2 has no 64-bit arithmetic
 * shift, so floor(p / 2^t) is taken as ((p ^ 2^63) >> t) - (2^63 >> t).
 *
 * All working memory is on the stack (at most about 52 KB, -fstack-usage). Layers whose
 * packed weights or patches would not fit the stack buffers (K > 2048), and depthwise
 * layers with a depth multiplier > 1, run the portable path's code.
 */
#include "internal.h"
#include "pyshrink.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>
#include <string.h>

#define X2 __attribute__((target("avx2")))
#define X2I X2 static inline __attribute__((always_inline))

#define X2_PACK_BYTES 32768 /* packed weights of one chunk */
#define X2_MAX_KPAD 2048    /* receptive field elements per pixel */
#define X2_MAX_CHUNK 256    /* output channels per chunk */
#define X2_PIXELS 4         /* pixels per GEMM block */

typedef struct {
    int32_t k;      /* receptive field size KH * KW * C_in */
    int32_t kpad;   /* k rounded up to 2 */
    int32_t cc_max; /* output channels per chunk, a multiple of 8 */
    int32_t nvec;   /* 8-channel vectors in the prepared chunk */
    int16_t *wpack; /* [kpad / 2][nvec][8][2] */
    int32_t *cst;   /* [nvec * 8]: the bias */
    int16_t *patch; /* [X2_PIXELS][kpad] */
    int32_t *w32;   /* depthwise: [taps][nvec * 8] weights as int16 in int32 lanes */
    int32_t *cst_fold; /* depthwise: [nvec * 8] bias - input_zp * sum(w) */
} x2_state;

/* ---- requantization, 8 channels ------------------------------------------------------ */

/* One vector of channels' requantization parameters, in locals (int8 stores cannot
 * alias them, so nothing is reloaded per pixel). */
typedef struct {
    __m256i mult, a, b; /* double: a = left shift, b = right shift; single: a = 31 - shift */
    __m256i zp, lo, hi;
    int single;
} x2_rq;

X2I __m256i x2_lanes(int32_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

X2I x2_rq x2_rq_load(const ps_quant_params *q, int32_t oc, __m256i m)
{
    x2_rq r;
    __m256i shift = _mm256_maskload_epi32(q->shift + oc, m);
    r.mult = _mm256_maskload_epi32(q->multiplier + oc, m);
    r.zp = _mm256_set1_epi32(q->output_zp);
    r.lo = _mm256_set1_epi32(q->act_min);
    r.hi = _mm256_set1_epi32(q->act_max);
    r.single = q->requant == PS_REQUANT_SINGLE;
    if (r.single) {
        r.a = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);
        r.b = r.a;
    } else {
        r.a = _mm256_max_epi32(shift, _mm256_setzero_si256());
        r.b = _mm256_max_epi32(_mm256_sub_epi32(_mm256_setzero_si256(), shift),
                               _mm256_setzero_si256());
    }
    return r;
}

/* floor(p / 2^t) for 64-bit lanes, 0 <= t <= 63, without an arithmetic 64-bit shift */
X2I __m256i x2_sra64(__m256i p, __m256i t)
{
    const __m256i top = _mm256_set1_epi64x(INT64_MIN);
    return _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_xor_si256(p, top), t),
                            _mm256_srlv_epi64(top, t));
}

X2I __m256i x2_requant(__m256i acc, const x2_rq *r)
{
    __m256i scaled;
    if (r->single) {
        const __m256i lo32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
        const __m256i one = _mm256_set1_epi64x(1);
        __m256i t_even = _mm256_and_si256(r->a, lo32);
        __m256i t_odd = _mm256_srli_epi64(r->a, 32);
        __m256i p_even = _mm256_mul_epi32(acc, r->mult);
        __m256i p_odd = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(r->mult, 32));
        p_even = _mm256_add_epi64(p_even, _mm256_sllv_epi64(one, _mm256_sub_epi64(t_even, one)));
        p_odd = _mm256_add_epi64(p_odd, _mm256_sllv_epi64(one, _mm256_sub_epi64(t_odd, one)));
        p_even = x2_sra64(p_even, t_even);
        p_odd = _mm256_slli_epi64(x2_sra64(p_odd, t_odd), 32);
        scaled = _mm256_blend_epi32(p_even, p_odd, 0xAA);
    } else {
        const __m256i nudge = _mm256_set1_epi64x(INT64_C(1) << 30);
        const __m256i one = _mm256_set1_epi32(1);
        __m256i x = _mm256_sllv_epi32(acc, r->a); /* wraps, as TFLite's int32 shift */
        /* SRDHM(x, m) = floor((x * m + 2^30) / 2^31): bits 31..62 of the 64-bit sum */
        __m256i p_even = _mm256_add_epi64(_mm256_mul_epi32(x, r->mult), nudge);
        __m256i p_odd = _mm256_add_epi64(
            _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(r->mult, 32)), nudge);
        __m256i s = _mm256_blend_epi32(_mm256_srli_epi64(p_even, 31), _mm256_slli_epi64(p_odd, 1),
                                       0xAA);
        /* RoundingDivideByPOT(s, right) */
        __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, r->b), one);
        __m256i rem = _mm256_and_si256(s, mask);
        __m256i thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_srai_epi32(s, 31));
        __m256i quo = _mm256_srav_epi32(s, r->b);
        scaled = _mm256_sub_epi32(quo, _mm256_cmpgt_epi32(rem, thr));
    }
    __m256i v = _mm256_add_epi32(scaled, r->zp);
    return _mm256_min_epi32(_mm256_max_epi32(v, r->lo), r->hi);
}

/* The low `lanes` (<= 8) int32 lanes of v, which hold int8 values, to dst. */
X2I void x2_store8(int8_t *dst, __m256i v, int32_t lanes)
{
    __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    __m128i b = _mm_packs_epi16(w16, w16);
    if (lanes >= 8) {
        _mm_storel_epi64((__m128i *)(void *)dst, b);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)(void *)tmp, b);
        memcpy(dst, tmp, (size_t)lanes);
    }
}

/* 8 int8 channels (fewer at the chunk's end, never reading past them) as int32 lanes */
X2I __m256i x2_load8(const int8_t *x, int32_t lanes)
{
    if (lanes >= 8) {
        return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)x));
    }
    int8_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(tmp, x, (size_t)lanes);
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)tmp));
}

/* ---- GEMM: conv2d, pointwise, fully connected ---------------------------------------- */

X2 static int32_t x2_gemm_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    x2_state *st = (x2_state *)ex->state;
    const int32_t k = st->k, kp = st->kpad / 2;
    const int32_t cc = op->out_c - oc0 < st->cc_max ? op->out_c - oc0 : st->cc_max;
    const int32_t nvec = (cc + 7) / 8;
    const size_t pstride = (size_t)nvec * 16; /* int16 per pair row */
    st->nvec = nvec;
    memset(st->wpack, 0, (size_t)kp * pstride * sizeof(int16_t));
    for (int32_t j = 0; j < nvec * 8; j++) {
        st->cst[j] = j < cc && op->bias != NULL ? op->bias[oc0 + j] : 0;
        if (j >= cc) {
            continue;
        }
        const int8_t *w = op->filter + (size_t)(oc0 + j) * k;
        int16_t *dst = st->wpack + (size_t)j * 2;
        for (int32_t i = 0; i < k; i++) {
            dst[(size_t)(i / 2) * pstride + (i % 2)] = w[i];
        }
    }
    ex->oc0 = oc0;
    ex->oc1 = oc0 + cc;
    return ex->oc1;
}

/* dst[i] = src[i] - zp as int16, i < n */
X2I void x2_copy_i16(int16_t *dst, const int8_t *src, int32_t n, __m256i zp)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(src + i)));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_sub_epi16(v, zp));
    }
    const int16_t z = (int16_t)_mm256_extract_epi16(zp, 0);
    for (; i < n; i++) {
        dst[i] = (int16_t)(src[i] - z);
    }
}

X2I void x2_gather(const ps_conv_op *op, const x2_state *st, int32_t n, int32_t oy, int32_t ox,
                   int16_t *dst)
{
    const int32_t c = op->in_c;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c;
    const __m256i zp = _mm256_set1_epi16((short)op->quant->input_zp);
    if (op->kind == PS_KIND_POINTWISE) {
        x2_copy_i16(dst, image + ((size_t)oy * op->in_w + ox) * c, c, zp);
    } else {
        const int32_t iy0 = oy * op->stride_h - op->pad_top;
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        const int32_t row_len = op->kernel_w * c;
        const int row_inside =
            ix0 >= 0 && ix0 + (op->kernel_w - 1) * op->dilation_w < op->in_w;
        int16_t *d = dst;
        for (int32_t ky = 0; ky < op->kernel_h; ky++, d += row_len) {
            const int32_t iy = iy0 + ky * op->dilation_h;
            if (iy < 0 || iy >= op->in_h) {
                memset(d, 0, (size_t)row_len * sizeof(int16_t));
                continue;
            }
            const int8_t *row = image + ((size_t)iy * op->in_w) * c;
            if (row_inside && op->dilation_w == 1) { /* the kernel row is contiguous */
                x2_copy_i16(d, row + (size_t)ix0 * c, row_len, zp);
                continue;
            }
            for (int32_t kx = 0; kx < op->kernel_w; kx++) {
                const int32_t ix = ix0 + kx * op->dilation_w;
                if (ix < 0 || ix >= op->in_w) {
                    memset(d + kx * c, 0, (size_t)c * sizeof(int16_t));
                } else {
                    x2_copy_i16(d + kx * c, row + (size_t)ix * c, c, zp);
                }
            }
        }
    }
    if (st->k < st->kpad) {
        dst[st->k] = 0; /* the packed weights are 0 there */
    }
}

/* dsts[p]: pixel p's output (channel oc0 of the chunk); or, with sums != NULL (dsts
 * unused), the P pixels' results are added to the chunk's channel sums instead. */
X2I void x2_tile(const ps_conv_op *op, const x2_state *st, int32_t vb, int32_t lanes,
                 int32_t oc_global, const int16_t *patch, int8_t *const *dsts, int32_t *sums,
                 const int P, const int NV)
{
    const ps_quant_params *q = op->quant;
    const int32_t kp = st->kpad / 2;
    const size_t pstride = (size_t)st->nvec * 16;
    const int16_t *w = st->wpack + (size_t)vb * 16;
    __m256i acc[X2_PIXELS][2];
    for (int v = 0; v < NV; v++) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(st->cst + (vb + v) * 8));
        for (int p = 0; p < P; p++) {
            acc[p][v] = c;
        }
    }
    for (int32_t i = 0; i < kp; i++, w += pstride) {
        __m256i wv[2];
        for (int v = 0; v < NV; v++) {
            wv[v] = _mm256_load_si256((const __m256i *)(const void *)(w + v * 16));
        }
        for (int p = 0; p < P; p++) {
            int32_t pair;
            memcpy(&pair, patch + (size_t)p * st->kpad + 2 * i, 4);
            __m256i xb = _mm256_set1_epi32(pair);
            for (int v = 0; v < NV; v++) {
                acc[p][v] = _mm256_add_epi32(acc[p][v], _mm256_madd_epi16(xb, wv[v]));
            }
        }
    }
    for (int v = 0; v < NV; v++) {
        const int32_t n = lanes - v * 8;
        const __m256i m = x2_lanes(n);
        x2_rq r = x2_rq_load(q, oc_global + v * 8, m);
        __m256i total = _mm256_setzero_si256();
        for (int p = 0; p < P; p++) {
            __m256i y = x2_requant(acc[p][v], &r);
            if (sums == NULL) { /* a fused window's pixels are only summed */
                x2_store8(dsts[p] + (vb + v) * 8, y, n);
            }
            total = _mm256_add_epi32(total, y);
        }
        if (sums != NULL) {
            int32_t *s = sums + (vb + v) * 8;
            _mm256_maskstore_epi32(s, m, _mm256_add_epi32(_mm256_maskload_epi32(s, m), total));
        }
    }
}

#define X2_TILE_CASE(P, NV)                                                                   \
    case (P)*4 + (NV):                                                                        \
        x2_tile(op, st, vb, lanes, oc_global, st->patch, dsts, sums, P, NV);                  \
        break;

/* P (<= 4) gathered pixels through every vector of the chunk */
X2I void x2_gemm_block(const ps_conv_exec *ex, int P, int8_t *const *dsts, int32_t *sums)
{
    const ps_conv_op *op = ex->op;
    const x2_state *st = (const x2_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0;
    for (int32_t vb = 0; vb < st->nvec; vb += 2) {
        const int NV = st->nvec - vb < 2 ? 1 : 2;
        const int32_t lanes = cc - vb * 8;
        const int32_t oc_global = ex->oc0 + vb * 8;
        switch (P * 4 + NV) {
            X2_TILE_CASE(1, 1) X2_TILE_CASE(1, 2) X2_TILE_CASE(2, 1) X2_TILE_CASE(2, 2)
            X2_TILE_CASE(3, 1) X2_TILE_CASE(3, 2) X2_TILE_CASE(4, 1) X2_TILE_CASE(4, 2)
        default:
            break;
        }
    }
}

X2 static void x2_gemm_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                           int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const x2_state *st = (const x2_state *)ex->state;
    for (int32_t ox = ox0; ox < ox1; ox += X2_PIXELS) {
        const int P = ox1 - ox < X2_PIXELS ? (int)(ox1 - ox) : X2_PIXELS;
        int8_t *dsts[X2_PIXELS];
        for (int p = 0; p < P; p++) {
            x2_gather(ex->op, st, n, oy, ox + p, st->patch + (size_t)p * st->kpad);
            dsts[p] = dst + (size_t)(ox - ox0 + p) * dst_stride;
        }
        x2_gemm_block(ex, P, dsts, NULL);
    }
}

X2 static void x2_zero_sums(int32_t *sums, int32_t cc)
{
    for (int32_t c = 0; c < cc; c++) {
        sums[c] = 0;
    }
}

/* ps_pool_average of 8 window sums sharing one count, vectorised: power-of-two counts
 * are shifts, other counts ("tflite" rounding only) an exact division by multiplication
 * (ps_division_magic). Counts above 2^20 are left to the scalar ps_pool_average_run. */
typedef struct {
    int pow2; /* count is 2^k */
    __m128i k;
    __m256i half, magic, lo, hi;
    __m128i magic_shift;
    ps_pool_rounding rounding;
} x2_avg;

X2I int x2_avg_init(x2_avg *a, int32_t count, const ps_pool_params *pool)
{
    const int k = ps_exact_log2(count);
    if (count > (INT32_C(1) << 20)) {
        return 0;
    }
    a->pow2 = k >= 0;
    a->k = _mm_cvtsi32_si128(k >= 0 ? k : 0);
    a->half = _mm256_set1_epi32(count / 2);
    a->lo = _mm256_set1_epi32(pool->act_min);
    a->hi = _mm256_set1_epi32(pool->act_max);
    a->rounding = pool->rounding;
    uint32_t m = 0;
    int shift = 0;
    if (k < 0) {
        ps_division_magic(count, &m, &shift);
    }
    a->magic = _mm256_set1_epi64x((long long)m);
    a->magic_shift = _mm_cvtsi32_si128(shift);
    return 1;
}

X2I __m256i x2_avg_apply(const x2_avg *a, __m256i s)
{
    __m256i v;
    if (a->rounding == PS_ROUND_FLOOR) {
        v = _mm256_sra_epi32(s, a->k);
    } else if (a->rounding == PS_ROUND_HALF_UP) {
        v = _mm256_sra_epi32(_mm256_add_epi32(s, a->half), a->k);
    } else { /* half away from zero: sign(s) * floor((|s| + half) / count) */
        __m256i u = _mm256_add_epi32(_mm256_abs_epi32(s), a->half);
        if (a->pow2) {
            v = _mm256_srl_epi32(u, a->k);
        } else {
            __m256i even = _mm256_srl_epi64(_mm256_mul_epu32(u, a->magic), a->magic_shift);
            __m256i odd = _mm256_srl_epi64(_mm256_mul_epu32(_mm256_srli_epi64(u, 32), a->magic),
                                           a->magic_shift);
            v = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
        }
        const __m256i neg = _mm256_cmpgt_epi32(_mm256_set1_epi32(1), s); /* s <= 0 */
        v = _mm256_sub_epi32(_mm256_xor_si256(v, neg), neg);
    }
    return _mm256_min_epi32(_mm256_max_epi32(v, a->lo), a->hi);
}

/* out[c] = ps_pool_average(sums[c], count, pool), c < cc */
X2 static void x2_average(const int32_t *sums, int32_t count, int32_t cc,
                          const ps_pool_params *pool, int8_t *out)
{
    x2_avg a;
    if (!x2_avg_init(&a, count, pool)) {
        ps_pool_average_run(sums, count, cc, pool, out);
        return;
    }
    for (int32_t c = 0; c < cc; c += 8) {
        const int32_t lanes = cc - c;
        __m256i v = x2_avg_apply(&a, _mm256_maskload_epi32(sums + c, x2_lanes(lanes)));
        x2_store8(out + c, v, lanes);
    }
}

/* The ring mode's window (see ps_conv_exec.ring_window): sums in registers. */
X2 static void x2_ring_window(const int8_t *ring, size_t row_bytes, int32_t pool_h, int32_t y0,
                              int32_t y1, int32_t x0, int32_t x1, int32_t cc,
                              const ps_pool_params *pool, int32_t *sums, int8_t *out)
{
    const int32_t count = (y1 - y0) * (x1 - x0);
    x2_avg a;
    const int vector_avg = x2_avg_init(&a, count, pool);
    for (int32_t c = 0; c < cc; c += 8) {
        const int32_t lanes = cc - c < 8 ? cc - c : 8;
        __m256i s = _mm256_setzero_si256();
        for (int32_t y = y0; y < y1; y++) {
            const int8_t *p = ring + (size_t)(y % pool_h) * row_bytes + (size_t)x0 * cc + c;
            for (int32_t x = x0; x < x1; x++, p += cc) {
                s = _mm256_add_epi32(s, x2_load8(p, lanes));
            }
        }
        _mm256_maskstore_epi32(sums + c, x2_lanes(lanes), s);
        if (vector_avg) {
            x2_store8(out + c, x2_avg_apply(&a, s), lanes);
        }
    }
    if (!vector_avg) {
        ps_pool_average_run(sums, count, cc, pool, out);
    }
}

/* The fused window: its pixels in row-major order, 4 at a time across its rows. */
X2 static void x2_gemm_window(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                            int32_t x0, int32_t x1, const ps_pool_params *pool, int8_t *tile,
                            int32_t *sums, int8_t *out)
{
    const x2_state *st = (const x2_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0, pixels = (y1 - y0) * (x1 - x0);
    int32_t y = y0, x = x0;
    (void)tile;
    x2_zero_sums(sums, cc);
    for (int32_t i = 0; i < pixels; i += X2_PIXELS) {
        const int P = pixels - i < X2_PIXELS ? (int)(pixels - i) : X2_PIXELS;
        for (int p = 0; p < P; p++) {
            x2_gather(ex->op, st, n, y, x, st->patch + (size_t)p * st->kpad);
            if (++x == x1) {
                x = x0;
                y++;
            }
        }
        x2_gemm_block(ex, P, NULL, sums);
    }
    x2_average(sums, pixels, cc, pool, out);
}

X2 static void x2_gemm_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                int32_t *sums, int8_t *out, int32_t out_stride)
{
    for (int32_t px = 0; px < pooled_w; px++, out += out_stride) {
        int32_t x0, x1;
        ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, ex->op->out_w, &x0, &x1);
        x2_gemm_window(ex, n, y0, y1, x0, x1, pool, tile, sums, out);
    }
}

/* ---- depthwise (depth multiplier 1) ------------------------------------------------- */

X2 static int32_t x2_dw_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    x2_state *st = (x2_state *)ex->state;
    const int32_t taps = op->kernel_h * op->kernel_w;
    const int32_t cc = op->out_c - oc0 < st->cc_max ? op->out_c - oc0 : st->cc_max;
    const int32_t nvec = (cc + 7) / 8, width = nvec * 8;
    st->nvec = nvec;
    /* Weights as int32 lanes with the int16 weight in the low half, 0 in the high half:
     * VPMADDWD of such a lane with any int32 whose low half is an int16 v gives v * w. */
    for (int32_t j = 0; j < width; j++) {
        int32_t sum = 0;
        for (int32_t t = 0; t < taps; t++) {
            int8_t w = j < cc ? op->filter[(size_t)t * op->out_c + oc0 + j] : 0;
            st->w32[(size_t)t * width + j] = (int32_t)(uint16_t)(int16_t)w;
            sum += w;
        }
        uint32_t bias = j < cc && op->bias != NULL ? (uint32_t)op->bias[oc0 + j] : 0u;
        st->cst[j] = (int32_t)bias;
        /* interior pixels: raw x and bias - input_zp * sum(w), modulo 2^32 */
        st->cst_fold[j] = (int32_t)(bias - (uint32_t)op->quant->input_zp * (uint32_t)sum);
    }
    ex->oc0 = oc0;
    ex->oc1 = oc0 + cc;
    return ex->oc1;
}


X2I void x2_dw_pixel(const ps_conv_op *op, const x2_state *st, int32_t oc0, int32_t cc,
                     const int8_t *image, int32_t iy0, int32_t ix0, int8_t *dst, int32_t vb,
                     int32_t *sums, const int NV)
{
    const ps_quant_params *q = op->quant;
    const int32_t width = st->nvec * 8;
    const int interior = iy0 >= 0 && iy0 + (op->kernel_h - 1) * op->dilation_h < op->in_h &&
                         ix0 >= 0 && ix0 + (op->kernel_w - 1) * op->dilation_w < op->in_w;
    const __m256i zp = _mm256_set1_epi32(interior ? 0 : q->input_zp);
    const int32_t *cst = interior ? st->cst_fold : st->cst;
    __m256i acc[4];
    int32_t lanes[4];
    for (int v = 0; v < NV; v++) {
        acc[v] = _mm256_loadu_si256((const __m256i *)(const void *)(cst + (vb + v) * 8));
        lanes[v] = cc - (vb + v) * 8;
    }
    for (int32_t ky = 0; ky < op->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * op->dilation_h;
        if (iy < 0 || iy >= op->in_h) {
            continue; /* padding taps contribute nothing */
        }
        for (int32_t kx = 0; kx < op->kernel_w; kx++) {
            const int32_t ix = ix0 + kx * op->dilation_w;
            if (ix < 0 || ix >= op->in_w) {
                continue;
            }
            const int8_t *x = image + ((size_t)iy * op->in_w + ix) * op->in_c + oc0 + vb * 8;
            const int32_t *w = st->w32 + (size_t)(ky * op->kernel_w + kx) * width + vb * 8;
            for (int v = 0; v < NV; v++) {
                __m256i xv = _mm256_sub_epi32(x2_load8(x + v * 8, lanes[v]), zp);
                __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(w + v * 8));
                acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(xv, wv));
            }
        }
    }
    for (int v = 0; v < NV; v++) {
        const __m256i m = x2_lanes(lanes[v]);
        x2_rq r = x2_rq_load(q, oc0 + (vb + v) * 8, m);
        __m256i y = x2_requant(acc[v], &r);
        x2_store8(dst + (vb + v) * 8, y, lanes[v]);
        if (sums != NULL) {
            int32_t *s = sums + (vb + v) * 8;
            _mm256_maskstore_epi32(s, m, _mm256_add_epi32(_mm256_maskload_epi32(s, m), y));
        }
    }
}

X2 static void x2_dw_span(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                          int32_t ox1, int8_t *dst, int32_t dst_stride, int32_t *sums)
{
    const ps_conv_op *op = ex->op;
    const x2_state *st = (const x2_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * op->in_c;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    for (int32_t ox = ox0; ox < ox1; ox++, dst += dst_stride) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        for (int32_t vb = 0; vb < st->nvec; vb += 4) {
            switch (st->nvec - vb) {
            case 1:
                x2_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 1);
                break;
            case 2:
                x2_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 2);
                break;
            case 3:
                x2_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 3);
                break;
            default:
                x2_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 4);
                break;
            }
        }
    }
}

X2 static void x2_dw_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                         int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    x2_dw_span(ex, n, oy, ox0, ox1, dst, dst_stride, NULL);
}

X2 static void x2_dw_window(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                            int32_t x0, int32_t x1, const ps_pool_params *pool, int8_t *tile,
                            int32_t *sums, int8_t *out)
{
    const int32_t cc = ex->oc1 - ex->oc0;
    x2_zero_sums(sums, cc);
    for (int32_t y = y0; y < y1; y++) {
        x2_dw_span(ex, n, y, x0, x1, tile, cc, sums);
    }
    x2_average(sums, (y1 - y0) * (x1 - x0), cc, pool, out);
}

X2 static void x2_dw_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                int32_t *sums, int8_t *out, int32_t out_stride)
{
    for (int32_t px = 0; px < pooled_w; px++, out += out_stride) {
        int32_t x0, x1;
        ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, ex->op->out_w, &x0, &x1);
        x2_dw_window(ex, n, y0, y1, x0, x1, pool, tile, sums, out);
    }
}

/* ---- entry -------------------------------------------------------------------------- */

X2 void ps_conv_run_avx2(const ps_conv_op *op, const ps_conv_job *job)
{
    int16_t wpack[X2_PACK_BYTES / 2] __attribute__((aligned(32)));
    int32_t cst[X2_MAX_CHUNK] __attribute__((aligned(32)));
    x2_state st;
    memset(&st, 0, sizeof st);
    st.cst = cst;
    if (op->kind == PS_KIND_DEPTHWISE) {
        const int32_t taps = op->kernel_h * op->kernel_w;
        int32_t cc_max = (int32_t)(X2_PACK_BYTES / (4 * 8 * (size_t)taps)) * 8;
        if (op->depth_multiplier != 1 || cc_max < 8) {
            ps_conv_run_portable(op, job);
            return;
        }
        int32_t cst_fold[X2_MAX_CHUNK] __attribute__((aligned(32)));
        st.cc_max = cc_max < X2_MAX_CHUNK ? cc_max : X2_MAX_CHUNK;
        st.w32 = (int32_t *)(void *)wpack;
        st.cst_fold = cst_fold;
        ps_conv_exec ex = {op, x2_dw_prepare, x2_dw_row, x2_dw_pooled_row, x2_ring_window, 0, 0, &st, NULL};
        ps_conv_drive(&ex, job);
        return;
    }
    int16_t patch[X2_PIXELS * X2_MAX_KPAD] __attribute__((aligned(32)));
    st.k = op->kernel_h * op->kernel_w * op->in_c;
    st.kpad = (st.k + 1) / 2 * 2;
    if (st.kpad > X2_MAX_KPAD) {
        ps_conv_run_portable(op, job);
        return;
    }
    int32_t cc_max = (int32_t)(X2_PACK_BYTES / (16 * (size_t)st.kpad)) * 8;
    st.cc_max = cc_max < X2_MAX_CHUNK ? cc_max : X2_MAX_CHUNK;
    st.wpack = wpack;
    st.patch = patch;
    ps_conv_exec ex = {op, x2_gemm_prepare, x2_gemm_row, x2_gemm_pooled_row, x2_ring_window, 0, 0, &st, NULL};
    ps_conv_drive(&ex, job);
}

/* ---- the accumulator check's sums of |w| (common.c) ---------------------------------- */

X2 int64_t ps_abs_sum_row_avx2(const int8_t *w, int32_t taps)
{
    __m256i acc = _mm256_setzero_si256();
    int32_t t = 0;
    for (; t + 32 <= taps; t += 32) {
        /* |-128| = 128 as an unsigned byte; SAD against 0 sums 8 bytes per 64-bit lane */
        __m256i a = _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)(const void *)(w + t)));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(a, _mm256_setzero_si256()));
    }
    int64_t lanes[4];
    _mm256_storeu_si256((__m256i *)(void *)lanes, acc);
    int64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; t < taps; t++) {
        s += w[t] < 0 ? -w[t] : w[t];
    }
    return s;
}

X2 void ps_abs_sum_columns_avx2(const int8_t *filter, int32_t taps, ptrdiff_t tap_step,
                                int32_t len, int64_t *abs_sum)
{
    int32_t part[64] __attribute__((aligned(32)));
    for (int32_t c0 = 0; c0 < len; c0 += 8) {
        const int32_t lanes = len - c0 < 8 ? len - c0 : 8;
        __m256i acc = _mm256_setzero_si256();
        for (int32_t t = 0; t < taps; t++) { /* taps < 2^23: 128 * taps fits int32 */
            acc = _mm256_add_epi32(acc, _mm256_abs_epi32(x2_load8(filter + t * tap_step + c0, lanes)));
        }
        _mm256_store_si256((__m256i *)(void *)(part + c0), acc);
    }
    for (int32_t i = 0; i < len; i++) {
        abs_sum[i] = part[i];
    }
}

/* ---- pooling ------------------------------------------------------------------------ */

X2 void ps_avg_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                           const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    int32_t sums[8] __attribute__((aligned(32)));
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++, output += c) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                const int32_t count = (y1 - y0) * (x1 - x0);
                x2_avg a;
                const int vector_avg = x2_avg_init(&a, count, pool);
                for (int32_t c0 = 0; c0 < c; c0 += 8) {
                    const int32_t lanes = c - c0 < 8 ? c - c0 : 8;
                    __m256i s = _mm256_setzero_si256();
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *row = image + ((size_t)y * in_w) * c + c0;
                        for (int32_t x = x0; x < x1; x++) {
                            s = _mm256_add_epi32(s, x2_load8(row + (size_t)x * c, lanes));
                        }
                    }
                    if (vector_avg) {
                        x2_store8(output + c0, x2_avg_apply(&a, s), lanes);
                    } else {
                        _mm256_store_si256((__m256i *)(void *)sums, s);
                        ps_pool_average_run(sums, count, lanes, pool, output + c0);
                    }
                }
            }
        }
    }
}

/* Windows wider than the strip buffer: each window directly. */
X2I void x2_max_pool_direct(const ps_pool_params *pool, const ps_dims *input_dims,
                            const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const __m256i lo = _mm256_set1_epi8((char)pool->act_min), hi = _mm256_set1_epi8((char)pool->act_max);
    int8_t tmp[32] __attribute__((aligned(32)));
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++, output += c) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                for (int32_t c0 = 0; c0 < c; c0 += 32) {
                    const int32_t len = c - c0 < 32 ? c - c0 : 32;
                    __m256i best = _mm256_set1_epi8(-128);
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *row = image + ((size_t)y * in_w) * c + c0;
                        for (int32_t x = x0; x < x1; x++) {
                            const int8_t *p = row + (size_t)x * c;
                            __m256i v;
                            if (len == 32) {
                                v = _mm256_loadu_si256((const __m256i *)(const void *)p);
                            } else { /* never read past the channels */
                                memset(tmp, -128, sizeof tmp);
                                memcpy(tmp, p, (size_t)len);
                                v = _mm256_load_si256((const __m256i *)(const void *)tmp);
                            }
                            best = _mm256_max_epi8(best, v);
                        }
                    }
                    best = _mm256_min_epi8(_mm256_max_epi8(best, lo), hi);
                    _mm256_store_si256((__m256i *)(void *)tmp, best);
                    memcpy(output + c0, tmp, (size_t)len);
                }
            }
        }
    }
}

/* Bytes of one strip of vertical maxima (max pooling) on the stack. */
#define X2_POOL_BUF 16384

/* dst[i] = max over r < rows of src[r * row_bytes + i], i < bytes: 32-byte vectors along
 * the contiguous run; the tail is redone by the vector ending at `bytes` (the same maxima
 * again), and a run shorter than a vector goes byte by byte. */
X2I void x2_vmax(const int8_t *src, size_t row_bytes, int32_t rows, int32_t bytes, int8_t *dst)
{
    if (bytes < 32) {
        for (int32_t i = 0; i < bytes; i++) {
            int8_t m = src[i];
            for (int32_t r = 1; r < rows; r++) {
                const int8_t v = src[(size_t)r * row_bytes + i];
                m = v > m ? v : m;
            }
            dst[i] = m;
        }
        return;
    }
    for (int32_t i = 0; i < bytes; i += 32) {
        if (i > bytes - 32) {
            i = bytes - 32;
        }
        const int8_t *p = src + i;
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
        for (int32_t r = 1; r < rows; r++) {
            p += row_bytes;
            a = _mm256_max_epi8(a, _mm256_loadu_si256((const __m256i *)(const void *)p));
        }
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), a);
    }
}

/* Separable, as the AVX-512 path: per output row, the vertical max of its window rows over
 * a strip of input columns into buf, then each pixel's horizontal max over its window's
 * columns in 32-byte vectors. Loads may run up to 32 bytes past a pixel's channels (inside
 * buf); a store of a partial vector writes past the pixel too, into pixels written later,
 * except at the end of the output, where the bytes go through tmp. */
X2 void ps_max_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                           const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const int32_t out_w = output_dims->w;
    const __m256i lo = _mm256_set1_epi8((char)pool->act_min), hi = _mm256_set1_epi8((char)pool->act_max);
    int8_t tmp[32] __attribute__((aligned(32)));
    if ((int64_t)pool->pool_w * c > X2_POOL_BUF) { /* windows wider than the strip buffer */
        x2_max_pool_direct(pool, input_dims, input, output_dims, output);
        return;
    }
    int8_t buf[X2_POOL_BUF + 32] __attribute__((aligned(32)));
    memset(buf + X2_POOL_BUF, 0, 32); /* read past the last pixel, never stored */
    const int32_t strip = (X2_POOL_BUF / c - pool->pool_w) / pool->stride_w + 1;
    const size_t row_bytes = (size_t)in_w * c;
    const int8_t *const end = output + (size_t)output_dims->n * output_dims->h * out_w * c;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * row_bytes;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t pa = 0; pa < out_w; pa += strip) {
                const int32_t pb = out_w - pa < strip ? out_w : pa + strip;
                int32_t xa, xb, unused;
                ps_pool_window(pa, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &xa, &unused);
                ps_pool_window(pb - 1, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &unused, &xb);
                x2_vmax(image + (size_t)y0 * row_bytes + (size_t)xa * c, row_bytes, y1 - y0, (xb - xa) * c, buf);
                for (int32_t px = pa; px < pb; px++, output += c) {
                    int32_t x0, x1;
                    ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                    const int8_t *p = buf + (size_t)(x0 - xa) * c;
                    for (int32_t c0 = 0; c0 < c; c0 += 32) {
                        __m256i best = _mm256_loadu_si256((const __m256i *)(const void *)(p + c0));
                        for (int32_t x = 1; x < x1 - x0; x++) {
                            best = _mm256_max_epi8(
                                best, _mm256_loadu_si256((const __m256i *)(const void *)(p + (size_t)x * c + c0)));
                        }
                        best = _mm256_min_epi8(_mm256_max_epi8(best, lo), hi);
                        if (c - c0 >= 32 || end - (output + c0) >= 32) {
                            _mm256_storeu_si256((__m256i *)(void *)(output + c0), best);
                        } else {
                            _mm256_store_si256((__m256i *)(void *)tmp, best);
                            memcpy(output + c0, tmp, (size_t)(c - c0));
                        }
                    }
                }
            }
        }
    }
}

#else /* not an x86-64 GCC/Clang build: never called (ps_kernel_path_supported is 0) */

void ps_conv_run_avx2(const ps_conv_op *op, const ps_conv_job *job)
{
    ps_conv_run_portable(op, job);
}

void ps_avg_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    ps_avg_pool2d_fast(pool, input_dims, input, output_dims, output);
}

int64_t ps_abs_sum_row_avx2(const int8_t *w, int32_t taps)
{
    int64_t s = 0;
    for (int32_t t = 0; t < taps; t++) {
        s += w[t] < 0 ? -w[t] : w[t];
    }
    return s;
}

void ps_abs_sum_columns_avx2(const int8_t *filter, int32_t taps, ptrdiff_t tap_step, int32_t len,
                             int64_t *abs_sum)
{
    for (int32_t i = 0; i < len; i++) {
        abs_sum[i] = 0;
        for (int32_t t = 0; t < taps; t++) {
            int32_t v = filter[t * tap_step + i];
            abs_sum[i] += v < 0 ? -v : v;
        }
    }
}

void ps_max_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    ps_max_pool2d_fast(pool, input_dims, input, output_dims, output);
}

#endif
