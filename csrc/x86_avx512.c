/*
 * PS_PATH_AVX512: x86-64 AVX-512 (F, BW, VL, DQ) with VNNI, compiled through function
 * attributes so the rest of the build stays baseline x86-64; run only where
 * ps_kernel_path_supported(PS_PATH_AVX512) says the CPU has it.
 *
 * conv2d, pointwise and fully connected are a GEMM: per call (and chunk of output
 * channels) the weights are packed on the stack as [K/4][channel][4] int8, the folding
 * constant bias - (128 + input_zp) * sum(w) is computed per channel, and each output
 * pixel's receptive field is gathered as u8 (x + 128; padding taps as input_zp + 128).
 * VPDPBUSD then adds four u8 x s8 products per int32 lane, 16 output channels per
 * register, for up to 4 pixels x 64 channels at a time:
 *
 *     acc = bias + sum (x - zp) w = [bias - (128 + zp) sum w] + sum (x + 128) w
 *
 * exact in int32 arithmetic modulo 2^32, and acc itself fits int32 (the accumulator
 * check), so the wrapped sums give exactly acc. A receptive field of at most 64 bytes is
 * built in a register by masked loads (x5_patch_reg), longer ones are gathered in memory
 * (unfused, contiguous kernel rows: each kernel row's span of 8 pixels once, x5_span, also
 * for fields in registers with kernel_h > 1; fused 2x2 window pairs: both conv rows' spans
 * once per pooled row, x5_span_at). Spans need every quad within one kernel row: where
 * KW * C is not a multiple of 4 (3x3 on 3 channels), small fields pad each kernel row to
 * whole quads, 0 weights in the gaps (x5_pad_rows).
 * Layers with at most 8 output channels put 2-8 pixels x their channels in a vector
 * instead (x5_few_*), gathering the receptive fields with VPERMB where the CPU has VBMI.
 * Depthwise keeps channels in the lanes (16 per register, VPDPWSSD; see the depthwise
 * section); unfused 3x3 undilated depthwise with multiplier 1 interleaves each output
 * row's three input rows into u8 column quads for VPDPBUSD (the column-quad section).
 * Requantization (double or single rounding) is vectorised over the 16 channels with the
 * 64-bit products of VPMULDQ; the GEMM and the column quads work out what depends only on
 * the channels once per chunk (x5_rqb), so that either rounding is one 64-bit step. The
 * fused window mode sums each pooling window's requantized pixels in registers (4 pixels
 * per block, across the window's rows) and averages them there: shifts for power-of-two
 * counts, an exact division by multiplication otherwise. Overlapping pools (ring mode) sum
 * each conv column over the window rows once per pooled row (x5_ring_row).
 *
 * All working memory is on the stack (at most about 60 KB, -fstack-usage). Layers whose packed weights
 * or patches would not fit (K > 2048, or depthwise kernels of more than 512 taps) run the
 * portable path's code.
 */
#include "internal.h"
#include "pyshrink.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#define X5 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define X5I X5 static inline __attribute__((always_inline))
/* VPERMB as well, for the few-channel GEMM's row gather (x5_few_row_vbmi) */
#define X5V __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi")))
#define X5VI X5V static inline __attribute__((always_inline))
/* VPEXPANDB, for spreading padded kernel rows (x5_spread_rows) */
#define X5B __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512vbmi2")))

#define X5_PACK_BYTES 32768 /* packed weights of one chunk */
#define X5_MAX_KPAD 2048    /* receptive field bytes per pixel */
#define X5_MAX_CHUNK 256    /* output channels per chunk */
#define X5_PIXELS 8         /* pixels per GEMM block (x5_block_pixels) */
#define X5_PATCH_BYTES (4 * X5_MAX_KPAD) /* the receptive fields of one block */

/* The pooled average of a window count (x5_avg_init), vectorised. */
typedef struct {
    int pow2; /* count is 2^k */
    __m128i k;
    __m512i half, magic, lo, hi;
    __m128i magic_shift;
    ps_pool_rounding rounding;
} x5_avg;

typedef struct x5_rqb x5_rqb;

typedef struct {
    int32_t k;      /* receptive field bytes: KH * frow */
    int32_t kpad;   /* k rounded up to 4 */
    int32_t frow;   /* field bytes per kernel row: KW * C_in, or that rounded up to 4 where
                       the GEMM pads kernel rows (x5_pad_rows) */
    int32_t cc_max; /* output channels per chunk, a multiple of 16 */
    int32_t nvec;   /* 16-channel vectors in the prepared chunk */
    int8_t *wpack;  /* [kpad / 4][nvec][16][4] */
    int32_t *cst;   /* [nvec * 16]: the folded bias */
    uint8_t *patch; /* [x5_block_pixels][x5_patch_stride] */
    int32_t *w32;   /* depthwise: [taps][nvec * 16] weights as int16 in int32 lanes */
    int32_t *cst_fold; /* depthwise: [nvec * 16] bias - input_zp * sum(w) */
    int32_t group;     /* depthwise: pixels per vector (16 / C for C = 1, 2, 4, 8), else 1;
                          GEMM with few channels: pixels per vector (x5_few_group), else 0 */
    int32_t pk_mult[16], pk_shift[16]; /* depthwise grouped, GEMM few: per lane */
    int32_t few_idx[16]; /* GEMM few: lane l's dword of quad 0 in a vector's two patch registers */
    int8_t few_perm[64]; /* GEMM few: byte p of a patch register (slot s, rf byte t), taken from a
                            kernel row's input bytes starting at slot 0's: s * stride_w * C + t % (KW * C) */
    /* GEMM few, fused windows with VPERMB straight from the input rows (x5_few_pooled_direct):
     * lane l's bytes of quad i's vector are few_pofs[l] + few_qtr[i] (bytes b of the
     * dword: pixel offset + rf byte 4i + b within its kernel row), taken from kernel row
     * few_qky[i][b]'s window (few_qmix[i]: not all four bytes from kernel row few_qky[i][0]) */
    int32_t few_direct, few_vbmi;
    int32_t few_pofs[16], few_qtr[16], few_qmix; /* few_qmix: bit i */
    int8_t few_qky[16][4];
    int32_t avg_counts[4];            /* fused windows: the count avgs[i] was made for (0: none) */
    int32_t q_mode;                   /* GEMM, column quads: x5_rqb_apply's mode for the chunk */
    int32_t *rq_mult, *rq_a, *rq_b;   /* depthwise: x5_rq_load's vectors for the chunk */
    x5_rqb *rqb;                      /* GEMM: [nvec] the chunk's requantization blocks */
    /* depthwise with a depth multiplier M > 1: vector v's lanes (output channels
     * oc0 + 16v + l) read input channels in_base[v] + in_idx[16v + l], in_mask[v] */
    int32_t *in_idx;
    int32_t in_base[X5_MAX_CHUNK / 16];
    __mmask16 in_mask[X5_MAX_CHUNK / 16];
    /* last, left out of the zeroing at each call (read only once avg_counts says made) */
    x5_avg avgs[4];                   /* x5_avg_for's, by count % 4 (a SAME 3x3 pool's 4, 6, 9 apart) */
} x5_state;

/* ---- requantization, 16 channels ---------------------------------------------------- */

/* One vector of channels' requantization parameters, in locals (int8 stores cannot
 * alias them, so nothing is reloaded per pixel). */
typedef struct {
    __m512i mult, a, b; /* double: a = left shift, b = right shift; single: a = 31 - shift */
    __m512i zp, lo, hi;
    int single;
} x5_rq;

X5I __mmask16 x5_lanes(int32_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* Parameters of channels mult[0..16) / shift[0..16) (lanes outside m: 0). */
X5I x5_rq x5_rq_load_from(const ps_quant_params *q, const int32_t *mult, const int32_t *shift_p,
                          __mmask16 m)
{
    x5_rq r;
    __m512i shift = _mm512_maskz_loadu_epi32(m, shift_p);
    r.mult = _mm512_maskz_loadu_epi32(m, mult);
    r.zp = _mm512_set1_epi32(q->output_zp);
    r.lo = _mm512_set1_epi32(q->act_min);
    r.hi = _mm512_set1_epi32(q->act_max);
    r.single = q->requant == PS_REQUANT_SINGLE;
    if (r.single) {
        r.a = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
        r.b = r.a;
    } else {
        r.a = _mm512_max_epi32(shift, _mm512_setzero_si512());
        r.b = _mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), shift),
                               _mm512_setzero_si512());
    }
    return r;
}

X5I x5_rq x5_rq_load(const ps_quant_params *q, int32_t oc, __mmask16 m)
{
    return x5_rq_load_from(q, q->multiplier + oc, q->shift + oc, m);
}

/* acc -> clamp(MBQM(acc) + output_zp): int32 lanes holding int8 values. */
X5I __m512i x5_requant(__m512i acc, const x5_rq *r)
{
    __m512i scaled;
    if (r->single) {
        /* (acc * m + 2^(t-1)) >> t, t = 31 - shift in [1, 62], in 64 bits per lane */
        const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFLL);
        const __m512i one = _mm512_set1_epi64(1);
        __m512i t_even = _mm512_and_si512(r->a, lo32);
        __m512i t_odd = _mm512_srli_epi64(r->a, 32);
        __m512i p_even = _mm512_mul_epi32(acc, r->mult);
        __m512i p_odd = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(r->mult, 32));
        p_even = _mm512_add_epi64(p_even, _mm512_sllv_epi64(one, _mm512_sub_epi64(t_even, one)));
        p_odd = _mm512_add_epi64(p_odd, _mm512_sllv_epi64(one, _mm512_sub_epi64(t_odd, one)));
        p_even = _mm512_srav_epi64(p_even, t_even);
        p_odd = _mm512_slli_epi64(_mm512_srav_epi64(p_odd, t_odd), 32);
        scaled = _mm512_mask_blend_epi32((__mmask16)0xAAAA, p_even, p_odd);
    } else {
        const __m512i nudge = _mm512_set1_epi64(INT64_C(1) << 30);
        const __m512i one = _mm512_set1_epi32(1);
        __m512i x = _mm512_sllv_epi32(acc, r->a); /* wraps, as TFLite's int32 shift */
        /* SRDHM(x, m) = floor((x * m + 2^30) / 2^31): bits 31..62 of the 64-bit sum */
        __m512i p_even = _mm512_add_epi64(_mm512_mul_epi32(x, r->mult), nudge);
        __m512i p_odd = _mm512_add_epi64(
            _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(r->mult, 32)), nudge);
        p_even = _mm512_srli_epi64(p_even, 31);
        p_odd = _mm512_slli_epi64(p_odd, 1);
        __m512i s = _mm512_mask_blend_epi32((__mmask16)0xAAAA, p_even, p_odd);
        /* RoundingDivideByPOT(s, right) */
        __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, r->b), one);
        __m512i rem = _mm512_and_si512(s, mask);
        __m512i thr = _mm512_sub_epi32(_mm512_srai_epi32(mask, 1), _mm512_srai_epi32(s, 31));
        __m512i quo = _mm512_srav_epi32(s, r->b);
        scaled = _mm512_mask_add_epi32(quo, _mm512_cmpgt_epi32_mask(rem, thr), quo, one);
    }
    __m512i v = _mm512_add_epi32(scaled, r->zp);
    return _mm512_min_epi32(_mm512_max_epi32(v, r->lo), r->hi);
}

/* ---- requantization with per-block constants: GEMM, few channels, column quads ------
 *
 * What depends only on the channels is worked out once per chunk (x5_rqb_init), so that
 * TFLite's double rounding (SRDHM, then RoundingDivideByPOT) is one 64-bit step per half
 * (even lanes, odd lanes) of the vector. Single: (x m + 2^(t-1)) >> t, t = 31 - shift.
 * Double: with p = x m + 2^30 (x = acc << left, wrapping), SRDHM is s = floor(p / 2^31) and
 * RDBPOT by r = max(-shift, 0) is floor((s + 2^(r-1) - [s < 0]) / 2^r) for r >= 1 (s for
 * r = 0), so the result is floor((p + 2^(30+r) - 2^31 [p < 0]) / 2^(31+r)). For r >= 1
 * the test p < 0 may be x m < 0 instead: for -2^30 <= x m < 0 the sum stays in
 * [0, 2^(31+r)) either way, so both give 0. So: add 2^30 + 2^(30+r) (r >= 1) to the
 * product, take 2^31 off where it is negative and r >= 1, shift by 31 + r.
 * Every sum is below 2^62 + 2^61 + 2^30 in magnitude (output_zp aside, see X5R_ZP): no
 * int64 overflow. */
struct x5_rqb {
    __m512i mult, mult_odd; /* mult_odd: lane 2k's low half is lane 2k + 1's multiplier */
    __m512i add[2];         /* per 64-bit half (even lanes, odd lanes): added to the product */
    __m512i sh[2];          /* its right shift (31 + r, or t); X5R_HIGH: sh[0] is the int32
                               lanes' shift past 32 (every one's is >= 32) */
    __m512i left;           /* X5R_LEFT: the left shift (int32 lanes) */
};

/* x5_rqb_apply's modes, bits chosen once per chunk from its shifts (x5_rqb_mode) */
#define X5R_NEG 1  /* double, some shift < 0: the 2^31 off negative products */
#define X5R_LEFT 2 /* double, some shift > 0: acc << left first */
#define X5R_HIGH 4 /* every shift < 0: every right shift >= 32, so the results are the
                      sums' high halves, shifted as one int32 vector */
#define X5R_ZP 8   /* every shift >= -24: output_zp * 2^sh is in the added constant. The
                      sums stay within int64: -2^62 + 2^31 <= x m <= (2^31 - 1)^2,
                      -2^62 <= zp 2^sh <= 2^62 - 2^55 (sh <= 55), the rest below 2^55 */
/* the usual mode of a TFLite conv: double rounding, every shift in [-24, -1] */
#define X5R_USUAL (X5R_NEG | X5R_HIGH | X5R_ZP)

X5I int x5_rqb_mode(const ps_quant_params *q, const int32_t *shift, int32_t n)
{
    const __m512i zero = _mm512_setzero_si512();
    __mmask16 neg = 0, pos = 0, nonneg = 0, far = 0;
    for (int32_t i = 0; i < n; i += 16) {
        const __mmask16 m = x5_lanes(n - i);
        const __m512i v = _mm512_maskz_loadu_epi32(m, shift + i);
        neg |= _mm512_mask_cmplt_epi32_mask(m, v, zero);
        pos |= _mm512_mask_cmpgt_epi32_mask(m, v, zero);
        nonneg |= _mm512_mask_cmpge_epi32_mask(m, v, zero);
        far |= _mm512_mask_cmplt_epi32_mask(m, v, _mm512_set1_epi32(-24));
    }
    const int zp = far ? 0 : X5R_ZP;
    if (q->requant == PS_REQUANT_SINGLE) {
        return zp | (nonneg ? 0 : X5R_HIGH);
    }
    return zp | (neg ? X5R_NEG : 0) | (pos ? X5R_LEFT : 0) | (nonneg ? 0 : X5R_HIGH);
}

/* Double rounding: the lanes of a half whose right shift sh = 31 + r has r >= 1. */
X5I __mmask8 x5_rqb_neg(__m512i sh)
{
    return _mm512_cmpgt_epi64_mask(sh, _mm512_set1_epi64(31));
}

/* The block of 16 lanes' multipliers and shifts (lanes of no channel: anything valid, e.g. 0),
 * for a mode chosen from (at least) these lanes' shifts. */
X5I void x5_rqb_init(x5_rqb *b, const ps_quant_params *q, __m512i mult, __m512i shift, int mode)
{
    const __m512i zero = _mm512_setzero_si512();
    const __m512i lo32 = _mm512_set1_epi64(0xFFFFFFFFLL), one64 = _mm512_set1_epi64(1);
    const int single = q->requant == PS_REQUANT_SINGLE;
    /* the right shift: t = 31 - shift, or 31 + r */
    const __m512i sh32 = _mm512_sub_epi32(_mm512_set1_epi32(31), single ? shift : _mm512_min_epi32(shift, zero));
    b->mult = mult;
    b->mult_odd = _mm512_srli_epi64(mult, 32);
    b->left = _mm512_max_epi32(shift, zero);
    for (int h = 0; h < 2; h++) {
        const __m512i sh = h == 0 ? _mm512_and_si512(sh32, lo32) : _mm512_srli_epi64(sh32, 32);
        const __m512i half = _mm512_sllv_epi64(one64, _mm512_sub_epi64(sh, one64)); /* 2^(sh-1) */
        b->sh[h] = sh;
        if (single) {
            b->add[h] = half;
        } else { /* 2^(30+r) where r >= 1 */
            b->add[h] = _mm512_add_epi64(_mm512_maskz_mov_epi64(x5_rqb_neg(sh), half),
                                         _mm512_set1_epi64(INT64_C(1) << 30));
        }
        if (mode & X5R_ZP) { /* floor((p + zp 2^sh) / 2^sh) = floor(p / 2^sh) + zp */
            b->add[h] = _mm512_add_epi64(b->add[h], _mm512_sllv_epi64(_mm512_set1_epi64(q->output_zp), sh));
        }
    }
    if (mode & X5R_HIGH) {
        b->sh[0] = _mm512_sub_epi32(sh32, _mm512_set1_epi32(32));
    }
}

/* Requantization of 16 accumulators with a block (x5_rqb_init) + output_zp, wrapping as
 * TFLite's int32 addition (the low halves of the 64-bit sums wrap alike); not clamped.
 * The odd lanes move by shuffles (port 5) rather than shifts (port 0, where VPDPBUSD and
 * the variable shifts already queue). */
X5I __m512i x5_rqb_apply(__m512i acc, const x5_rqb *b, const int mode, __m512i zp)
{
    const __m512i x = (mode & X5R_LEFT) ? _mm512_sllv_epi32(acc, b->left) : acc; /* wraps, as TFLite's */
    const __m512i qe = _mm512_mul_epi32(x, b->mult);
    const __m512i qo = _mm512_mul_epi32(_mm512_shuffle_epi32(x, _MM_PERM_DDBB), b->mult_odd);
    __m512i pe = _mm512_add_epi64(qe, b->add[0]);
    __m512i po = _mm512_add_epi64(qo, b->add[1]);
    if (mode & X5R_NEG) {
        const __m512i zero = _mm512_setzero_si512(), two31 = _mm512_set1_epi64(INT64_C(1) << 31);
        /* X5R_HIGH: every lane has r >= 1 */
        const __mmask8 ne = (mode & X5R_HIGH) ? _mm512_cmplt_epi64_mask(qe, zero)
                                              : _mm512_mask_cmplt_epi64_mask(x5_rqb_neg(b->sh[0]), qe, zero);
        const __mmask8 no = (mode & X5R_HIGH) ? _mm512_cmplt_epi64_mask(qo, zero)
                                              : _mm512_mask_cmplt_epi64_mask(x5_rqb_neg(b->sh[1]), qo, zero);
        pe = _mm512_mask_sub_epi64(pe, ne, pe, two31);
        po = _mm512_mask_sub_epi64(po, no, po, two31);
    }
    __m512i s;
    if (mode & X5R_HIGH) { /* high halves: pe's to the even lanes, po's stay odd */
        s = _mm512_srav_epi32(_mm512_mask_shuffle_epi32(po, (__mmask16)0x5555, pe, _MM_PERM_DDBB), b->sh[0]);
    } else { /* low halves: pe's stay even, po's to the odd lanes */
        s = _mm512_mask_shuffle_epi32(_mm512_srav_epi64(pe, b->sh[0]), (__mmask16)0xAAAA,
                                      _mm512_srav_epi64(po, b->sh[1]), _MM_PERM_CCAA);
    }
    return (mode & X5R_ZP) ? s : _mm512_add_epi32(s, zp);
}

/* Four vectors of requantized int32 lanes as 64 bytes in lane order, clamped to [lo, hi]
 * (int8 vectors): saturating packs keep every value outside int8 outside it, so the clamp
 * after them is exact; the packs interleave 128-bit lanes, which the permutation undoes. */
X5I __m512i x5_pack4_clamp(const __m512i *y, __m512i lo, __m512i hi)
{
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(y[0], y[1]), _mm512_packs_epi32(y[2], y[3]));
    return _mm512_min_epi8(_mm512_max_epi8(_mm512_permutexvar_epi32(order, b), lo), hi);
}

/* ---- pooled averages ---------------------------------------------------------------- */

/* ps_pool_average of 16 window sums sharing one count, vectorised: power-of-two counts
 * are shifts, other counts ("tflite" rounding only) an exact division by multiplication
 * (ps_division_magic). Counts above 2^20 are left to the scalar ps_pool_average_run. */

X5I int x5_avg_init(x5_avg *a, int32_t count, const ps_pool_params *pool)
{
    const int k = ps_exact_log2(count);
    if (count > (INT32_C(1) << 20)) {
        return 0;
    }
    a->pow2 = k >= 0;
    a->k = _mm_cvtsi32_si128(k >= 0 ? k : 0);
    a->half = _mm512_set1_epi32(count / 2);
    a->lo = _mm512_set1_epi32(pool->act_min);
    a->hi = _mm512_set1_epi32(pool->act_max);
    a->rounding = pool->rounding;
    uint32_t m = 0;
    int shift = 0;
    if (k < 0) {
        ps_division_magic(count, &m, &shift);
    }
    a->magic = _mm512_set1_epi64((long long)m);
    a->magic_shift = _mm_cvtsi32_si128(shift);
    return 1;
}

X5I __m512i x5_avg_apply(const x5_avg *a, __m512i s)
{
    __m512i v;
    if (a->rounding == PS_ROUND_FLOOR) {
        v = _mm512_sra_epi32(s, a->k);
    } else if (a->rounding == PS_ROUND_HALF_UP) {
        v = _mm512_sra_epi32(_mm512_add_epi32(s, a->half), a->k);
    } else { /* half away from zero: sign(s) * floor((|s| + half) / count) */
        __m512i u = _mm512_add_epi32(_mm512_abs_epi32(s), a->half);
        if (a->pow2) {
            v = _mm512_srl_epi32(u, a->k);
        } else {
            __m512i even = _mm512_srl_epi64(_mm512_mul_epu32(u, a->magic), a->magic_shift);
            __m512i odd = _mm512_srl_epi64(_mm512_mul_epu32(_mm512_srli_epi64(u, 32), a->magic),
                                           a->magic_shift);
            v = _mm512_mask_blend_epi32((__mmask16)0xAAAA, even, _mm512_slli_epi64(odd, 32));
        }
        v = _mm512_mask_sub_epi32(v, _mm512_cmple_epi32_mask(s, _mm512_setzero_si512()),
                                  _mm512_setzero_si512(), v);
    }
    return _mm512_min_epi32(_mm512_max_epi32(v, a->lo), a->hi);
}

/* The fused windows' average of a count (x5_avg_init), made once per count and kept in
 * one of four slots by count % 4; NULL for a count above 2^20 (ps_pool_average_run's). */
X5I const x5_avg *x5_avg_for(x5_state *st, int32_t count, const ps_pool_params *pool)
{
    const int32_t i = count & 3;
    if (st->avg_counts[i] != count) {
        if (!x5_avg_init(&st->avgs[i], count, pool)) {
            return NULL;
        }
        st->avg_counts[i] = count;
    }
    return &st->avgs[i];
}

/* out[c] = ps_pool_average(sums[c], count, pool), c < cc */
X5 static void x5_average(const int32_t *sums, int32_t count, int32_t cc,
                          const ps_pool_params *pool, int8_t *out)
{
    x5_avg a;
    if (!x5_avg_init(&a, count, pool)) {
        ps_pool_average_run(sums, count, cc, pool, out);
        return;
    }
    for (int32_t c = 0; c < cc; c += 16) {
        const __mmask16 m = x5_lanes(cc - c);
        __m512i v = x5_avg_apply(&a, _mm512_maskz_loadu_epi32(m, sums + c));
        _mm512_mask_cvtepi32_storeu_epi8(out + c, m, v);
    }
}

/* ---- GEMM: conv2d, pointwise, fully connected ---------------------------------------- */

/* Bytes off .. off + len - 1 of a 64-byte vector (off + len <= 64). */
X5I __mmask64 x5_bytes(int32_t off, int32_t len)
{
    return (len >= 64 ? ~(__mmask64)0 : (__mmask64)((UINT64_C(1) << len) - 1u)) << off;
}

/* A masked load that puts p[0 .. len) at bytes off .. off + len of the vector: the
 * address is off bytes before p, but only the masked bytes are read (and can fault). */
X5I __m512i x5_load_at(__m512i into, int32_t off, int32_t len, const int8_t *p)
{
    return _mm512_mask_loadu_epi8(into, x5_bytes(off, len), (const void *)((uintptr_t)p - (uintptr_t)off));
}

/* Padded kernel rows (x5_pack_channels): r[l] (l < lanes) holds a channel's kh kernel
 * rows of row_len taps each, back to back; each row moves to tap ky * frow, 0 between.
 * One VPEXPANDB per channel (one masked load per kernel row took twice as long as
 * packing the dense layout, and more than the padding saved). */
X5B static __attribute__((noinline)) void x5_spread_rows(__m512i *r, int32_t lanes, int32_t kh,
                                                         int32_t row_len, int32_t frow)
{
    __mmask64 spread = 0;
    for (int32_t ky = 0; ky < kh; ky++) {
        spread |= x5_bytes(ky * frow, row_len);
    }
    for (int32_t l = 0; l < lanes; l++) {
        r[l] = _mm512_maskz_expand_epi8(spread, r[l]);
    }
}

/* Packs the taps of `lanes` (<= 16) channels, k each, rows at base, as kq = ceil(k / 4)
 * vectors [channel][4] (channels from lanes on, and taps from k on: 0), qstride bytes
 * apart from dst; returns each channel's sum of taps. 64 taps at a time: 16 rows loaded
 * whole, then a 16 x 16 transpose of their quads (shuffles, where VPGATHERDD took twice
 * as long). With frow > row_len (padded kernel rows, k = kh * frow <= 64), a channel's
 * kh * row_len taps at base are spread so that kernel row ky starts at tap ky * frow,
 * 0 between. */
X5I __m512i x5_pack_channels(const int8_t *base, int32_t k, int32_t lanes, int8_t *dst, size_t qstride,
                             int32_t kh, int32_t row_len, int32_t frow)
{
    const __m512i ones = _mm512_set1_epi8(1);
    const int32_t kq = (k + 3) / 4;
    __m512i sum = _mm512_setzero_si512();
    for (int32_t j = 0; j < k; j += 64, dst += 16 * qstride) {
        const __mmask64 bytes = k - j >= 64 ? ~(__mmask64)0 : (__mmask64)((UINT64_C(1) << (k - j)) - 1u);
        __m512i r[16], t[16];
        if (frow == row_len) {
            for (int l = 0; l < 16; l++) {
                r[l] = l < lanes ? _mm512_maskz_loadu_epi8(bytes, base + (size_t)l * k + j) : _mm512_setzero_si512();
            }
        } else { /* j == 0 (k <= 64): each channel's taps loaded whole, then its kernel rows
                    moved to their places by x5_spread_rows (in an array of its own: r[] stays
                    in registers on the usual path) */
            __m512i spread[16];
            for (int l = 0; l < lanes; l++) {
                spread[l] = _mm512_maskz_loadu_epi8(x5_bytes(0, kh * row_len), base + (size_t)l * kh * row_len);
            }
            x5_spread_rows(spread, lanes, kh, row_len, frow);
            for (int l = 0; l < 16; l++) {
                r[l] = l < lanes ? spread[l] : _mm512_setzero_si512();
            }
        }
        /* within each 128-bit lane: t[4g + q] holds quad 4L + q of channels 4g .. 4g + 3 */
        for (int g = 0; g < 4; g++) {
            const __m512i lo01 = _mm512_unpacklo_epi32(r[4 * g], r[4 * g + 1]);
            const __m512i hi01 = _mm512_unpackhi_epi32(r[4 * g], r[4 * g + 1]);
            const __m512i lo23 = _mm512_unpacklo_epi32(r[4 * g + 2], r[4 * g + 3]);
            const __m512i hi23 = _mm512_unpackhi_epi32(r[4 * g + 2], r[4 * g + 3]);
            t[4 * g] = _mm512_unpacklo_epi64(lo01, lo23);
            t[4 * g + 1] = _mm512_unpackhi_epi64(lo01, lo23);
            t[4 * g + 2] = _mm512_unpacklo_epi64(hi01, hi23);
            t[4 * g + 3] = _mm512_unpackhi_epi64(hi01, hi23);
        }
        /* quad 4L + q of all 16 channels: 128-bit lane L of t[q], t[4 + q], t[8 + q], t[12 + q] */
        for (int q = 0; q < 4; q++) {
            const __m512i a = _mm512_shuffle_i32x4(t[q], t[4 + q], 0x44);
            const __m512i b = _mm512_shuffle_i32x4(t[8 + q], t[12 + q], 0x44);
            const __m512i c = _mm512_shuffle_i32x4(t[q], t[4 + q], 0xEE);
            const __m512i d = _mm512_shuffle_i32x4(t[8 + q], t[12 + q], 0xEE);
            const __m512i quads[4] = {_mm512_shuffle_i32x4(a, b, 0x88), _mm512_shuffle_i32x4(a, b, 0xDD),
                                      _mm512_shuffle_i32x4(c, d, 0x88), _mm512_shuffle_i32x4(c, d, 0xDD)};
            for (int L = 0; L < 4; L++) {
                const int32_t i = j / 4 + 4 * L + q;
                if (i < kq) {
                    _mm512_store_si512(dst + (size_t)(4 * L + q) * qstride, quads[L]);
                    sum = _mm512_dpbusd_epi32(sum, ones, quads[L]);
                }
            }
        }
    }
    return sum;
}

X5 static int32_t x5_gemm_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    x5_state *st = (x5_state *)ex->state;
    const int32_t k = st->k;
    const int32_t cc = op->out_c - oc0 < st->cc_max ? op->out_c - oc0 : st->cc_max;
    const int32_t nvec = (cc + 15) / 16;
    const size_t qstride = (size_t)nvec * 64;
    const __m512i fold = _mm512_set1_epi32(128 + op->quant->input_zp);
    const ps_quant_params *q = op->quant;
    st->nvec = nvec;
    st->q_mode = x5_rqb_mode(q, q->shift + oc0, cc);
    const int32_t row_len = op->kernel_w * op->in_c;
    for (int32_t v = 0; v < nvec; v++) {
        const int32_t lanes = cc - v * 16 < 16 ? cc - v * 16 : 16;
        const __mmask16 m = x5_lanes(lanes);
        const int8_t *base = op->filter + (size_t)(oc0 + v * 16) * op->kernel_h * row_len;
        const __m512i sum = x5_pack_channels(base, k, lanes, st->wpack + (size_t)v * 64, qstride,
                                             op->kernel_h, row_len, st->frow);
        __m512i bias = op->bias != NULL ? _mm512_maskz_loadu_epi32(m, op->bias + oc0 + v * 16)
                                        : _mm512_setzero_si512();
        /* bias - (128 + zp) * sum(w), modulo 2^32 (see the top of this file) */
        _mm512_storeu_si512(st->cst + v * 16, _mm512_sub_epi32(bias, _mm512_mullo_epi32(fold, sum)));
        if (st->group == 0) { /* the few-channel GEMM builds its one block itself (x5_few_prepare) */
            x5_rqb_init(&st->rqb[v], q, _mm512_maskz_loadu_epi32(m, q->multiplier + oc0 + v * 16),
                        _mm512_maskz_loadu_epi32(m, q->shift + oc0 + v * 16), st->q_mode);
        }
    }
    ex->oc0 = oc0;
    ex->oc1 = oc0 + cc;
    return ex->oc1;
}

/* dst[i] = src[i] + 128 as u8, i < n */
X5I void x5_copy_u8(uint8_t *dst, const int8_t *src, int32_t n)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    int32_t i = 0;
    for (; i + 64 <= n; i += 64) {
        _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), bias));
    }
    if (i < n) {
        __mmask64 m = (__mmask64)((UINT64_C(1) << (n - i)) - 1u); /* n - i < 64 */
        _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), bias));
    }
}

/* dst[i] = value, i < n */
X5I void x5_fill_u8(uint8_t *dst, uint8_t value, int32_t n)
{
    const __m512i v = _mm512_set1_epi8((char)value);
    int32_t i = 0;
    for (; i + 64 <= n; i += 64) {
        _mm512_storeu_si512(dst + i, v);
    }
    if (i < n) {
        _mm512_mask_storeu_epi8(dst + i, (__mmask64)((UINT64_C(1) << (n - i)) - 1u), v);
    }
}

/* The receptive field of conv pixel (n, oy, ox) as u8, zero-padded to kpad. (Fields of
 * more than 64 bytes: never padded kernel rows, x5_pad_rows.) */
X5I void x5_gather(const ps_conv_op *op, const x5_state *st, int32_t n, int32_t oy, int32_t ox,
                   uint8_t *dst)
{
    const int32_t c = op->in_c;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c;
    if (op->kind == PS_KIND_POINTWISE) {
        x5_copy_u8(dst, image + ((size_t)oy * op->in_w + ox) * c, c);
    } else {
        const uint8_t pad = (uint8_t)(op->quant->input_zp + 128);
        const int32_t iy0 = oy * op->stride_h - op->pad_top;
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        const int32_t row_len = op->kernel_w * c;
        const int row_inside =
            ix0 >= 0 && ix0 + (op->kernel_w - 1) * op->dilation_w < op->in_w;
        uint8_t *d = dst;
        for (int32_t ky = 0; ky < op->kernel_h; ky++, d += row_len) {
            const int32_t iy = iy0 + ky * op->dilation_h;
            if (iy < 0 || iy >= op->in_h) {
                x5_fill_u8(d, pad, row_len);
                continue;
            }
            const int8_t *row = image + ((size_t)iy * op->in_w) * c;
            if (row_inside && op->dilation_w == 1) { /* the kernel row is contiguous */
                x5_copy_u8(d, row + (size_t)ix0 * c, row_len);
                continue;
            }
            for (int32_t kx = 0; kx < op->kernel_w; kx++) {
                const int32_t ix = ix0 + kx * op->dilation_w;
                if (ix < 0 || ix >= op->in_w) {
                    x5_fill_u8(d + kx * c, pad, c);
                } else {
                    x5_copy_u8(d + kx * c, row + (size_t)ix * c, c);
                }
            }
        }
    }
    for (int32_t i = st->k; i < st->kpad; i++) {
        dst[i] = 0; /* the packed weights are 0 there */
    }
}

/* x5_gather into a register, for receptive fields of at most 64 bytes: built by merging
 * masked loads, so the GEMM reads no freshly stored bytes (masked stores do not forward
 * to loads). Bytes from k on hold anything: their packed weights are 0.
 *
 * What every pixel of one conv row shares is worked out once per row (x5_rowctx): the
 * kernel rows inside the input, their byte masks and load bases. A pixel whose kernel
 * rows lie inside the input horizontally then costs one masked load per kernel row. */
typedef struct {
    int32_t rows;               /* loads of an interior pixel (kernel rows or taps inside) */
    int32_t ky[64];             /* the kernel row of each */
    __mmask64 mask[64];         /* its bytes in the receptive field */
    uintptr_t base[64];         /* its address for input column 0, minus its byte offset */
    __mmask64 all;              /* the union of mask[] */
    int32_t iy0, pointwise, contiguous;
    int32_t frow;               /* x5_state.frow */
} x5_rowctx;

X5I void x5_rowctx_init(x5_rowctx *rc, const ps_conv_op *op, const x5_state *st, int32_t n, int32_t oy)
{
    const int32_t c = op->in_c;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c;
    rc->pointwise = op->kind == PS_KIND_POINTWISE;
    rc->rows = 0;
    rc->all = 0;
    rc->iy0 = 0;
    rc->contiguous = 0;
    rc->frow = st->frow;
    if (rc->pointwise) {
        rc->base[0] = (uintptr_t)(image + (size_t)oy * op->in_w * c);
        rc->mask[0] = x5_bytes(0, c);
        return;
    }
    const int32_t row_len = op->kernel_w * c;
    rc->iy0 = oy * op->stride_h - op->pad_top;
    rc->contiguous = op->dilation_w == 1;
    for (int32_t ky = 0; ky < op->kernel_h; ky++) {
        const int32_t iy = rc->iy0 + ky * op->dilation_h;
        if (iy < 0 || iy >= op->in_h) {
            continue;
        }
        const uintptr_t row = (uintptr_t)(image + (size_t)iy * op->in_w * c);
        if (rc->contiguous) { /* the kernel row's taps are adjacent: one load */
            rc->ky[rc->rows] = ky;
            rc->mask[rc->rows] = x5_bytes(ky * st->frow, row_len);
            rc->base[rc->rows] = row - (uintptr_t)(ky * st->frow);
            rc->all |= rc->mask[rc->rows];
            rc->rows++;
            continue;
        }
        for (int32_t kx = 0; kx < op->kernel_w; kx++) { /* dilated: one load per tap */
            const int32_t off = ky * st->frow + kx * c;
            rc->ky[rc->rows] = ky;
            rc->mask[rc->rows] = x5_bytes(off, c);
            rc->base[rc->rows] = row + (uintptr_t)kx * (uintptr_t)op->dilation_w * (uintptr_t)c - (uintptr_t)off;
            rc->all |= rc->mask[rc->rows];
            rc->rows++;
        }
    }
}

/* Merges the receptive field of pixel ox (as int8, before the flip to u8) into r at byte
 * offset at (at + kpad <= 64); the bytes of r outside it, and padding taps, stay as they are. */
X5I __m512i x5_patch_into(const ps_conv_op *op, const x5_rowctx *rc, int32_t ox, __m512i r,
                          int32_t at)
{
    const int32_t c = op->in_c;
    if (rc->pointwise) {
        return _mm512_mask_loadu_epi8(r, rc->mask[0] << at,
                                      (const void *)(rc->base[0] + (uintptr_t)ox * c - (uintptr_t)at));
    }
    const int32_t ix0 = ox * op->stride_w - op->pad_left;
    if (ix0 >= 0 && ix0 + (op->kernel_w - 1) * op->dilation_w < op->in_w) {
        const uintptr_t col = (uintptr_t)ix0 * (uintptr_t)c - (uintptr_t)at;
        /* zero-masked loads ORed together: no chain of merges through r */
        __m512i u = _mm512_setzero_si512();
        for (int32_t i = 0; i < rc->rows; i++) {
            u = _mm512_or_si512(u, _mm512_maskz_loadu_epi8(rc->mask[i] << at, (const void *)(rc->base[i] + col)));
        }
        return _mm512_mask_mov_epi8(r, rc->all << at, u);
    }
    const int32_t step = rc->contiguous ? 1 : op->kernel_w; /* loads per kernel row */
    for (int32_t i = 0; i < rc->rows; i += step) {
        const int32_t ky = rc->ky[i];
        const int8_t *row = (const int8_t *)(rc->base[i] + (uintptr_t)(ky * rc->frow));
        for (int32_t kx = 0; kx < op->kernel_w; kx++) {
            const int32_t ix = ix0 + kx * op->dilation_w;
            if (ix >= 0 && ix < op->in_w) {
                r = x5_load_at(r, at + ky * rc->frow + kx * c, c, row + (size_t)ix * c);
            }
        }
    }
    return r;
}

X5I __m512i x5_patch_reg(const ps_conv_op *op, const x5_rowctx *rc, int32_t ox)
{
    /* padding taps: x = zp */
    const __m512i fill = rc->pointwise ? _mm512_setzero_si512()
                                       : _mm512_set1_epi8((char)op->quant->input_zp);
    return _mm512_xor_si512(x5_patch_into(op, rc, ox, fill, 0), _mm512_set1_epi8((char)0x80));
}

/* The GEMM's receptive fields in st->patch: a field of at most 64 bytes is built in a
 * register (x5_patch_reg) and stored whole, 64-byte aligned (a load contained in one
 * earlier full store is forwarded from it; masked stores are not); longer ones are
 * gathered there kpad bytes apart. */
X5I size_t x5_patch_stride(const x5_state *st)
{
    return st->kpad <= 64 ? 64 : (size_t)st->kpad;
}

/* Where a block's receptive fields are: pixel p's quads 0 .. quads - 1 of kernel-row
 * segment r at base + r * row + p * pixel (one segment of kpad / 4 quads for whole
 * fields in st->patch; kernel_h segments for x5_span's rows). */
typedef struct {
    const uint8_t *base;
    size_t pixel, row;
    int32_t rows, quads;
    /* x5_tile's layout 1 (x5_pair_block on spans: two 2x2 windows, each row-major): pixel
     * p = b0 + 2 b1 + 4 b2 at b0 * pixel + b1 * dy + b2 * win (dy: conv row y + 1's spans,
     * win: window 1's first column) */
    size_t dy, win;
} x5_fields;

/* Whole fields in st->patch, x5_patch_stride apart */
X5I x5_fields x5_patch_fields(const x5_state *st)
{
    x5_fields f = {st->patch, x5_patch_stride(st), 0, 1, st->kpad / 4, 0, 0};
    return f;
}

/* Bytes per kernel row of x5_span for X5_PIXELS pixels: the input columns they cover,
 * 4 more (a quad may reach past the last pixel's kernel row, to 0 weights), rounded up
 * to 64. */
X5I size_t x5_span_row_bytes_for(const ps_conv_op *op, int32_t P)
{
    const size_t cols = (size_t)(P - 1) * op->stride_w + op->kernel_w;
    return (cols * op->in_c + 4 + 63) / 64 * 64;
}

X5I size_t x5_span_row_bytes(const ps_conv_op *op)
{
    const size_t cols = (size_t)(X5_PIXELS - 1) * op->stride_w + op->kernel_w;
    return (cols * op->in_c + 4 + 63) / 64 * 64;
}

/* x5_span applies: contiguous kernel rows whose quads do not straddle two of them (KW * C
 * a multiple of 4, or kernel rows padded to quads: x5_pad_rows), and 8 pixels' spans fit
 * the patch buffer. */
X5I int x5_span_applies(const ps_conv_op *op, const x5_state *st)
{
    return op->dilation_w == 1 && (op->kernel_h == 1 || st->frow % 4 == 0) &&
           (size_t)op->kernel_h * x5_span_row_bytes(op) <= X5_PATCH_BYTES;
}

/* The receptive fields of conv pixels (n, oy, ox .. ox + P - 1) without copying them one
 * by one: for each kernel row, the span of input columns the P pixels cover, as u8
 * (padding taps as input_zp + 128), each input byte once (where x5_gather copies it
 * for every pixel whose field has it). Pixel p's kernel row starts p * stride_w * C
 * bytes into its span. */
X5I void x5_span_at(const ps_conv_op *op, uint8_t *dst, size_t rstride, int32_t n, int32_t oy,
                    int32_t ox, int32_t P)
{
    const int32_t c = op->in_c;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c;
    const uint8_t pad = (uint8_t)(op->quant->input_zp + 128);
    const int32_t ix0 = ox * op->stride_w - op->pad_left;
    const int32_t cols = (P - 1) * op->stride_w + op->kernel_w;
    /* columns [0, left) and [right, cols) are padding */
    const int32_t left = ix0 >= 0 ? 0 : (-ix0 < cols ? -ix0 : cols);
    const int32_t right = op->in_w - ix0 < left ? left : (op->in_w - ix0 < cols ? op->in_w - ix0 : cols);
    for (int32_t ky = 0; ky < op->kernel_h; ky++) {
        uint8_t *d = dst + (size_t)ky * rstride;
        const int32_t iy = oy * op->stride_h - op->pad_top + ky * op->dilation_h;
        if (iy < 0 || iy >= op->in_h) {
            x5_fill_u8(d, pad, cols * c);
        } else {
            x5_fill_u8(d, pad, left * c);
            x5_copy_u8(d + (size_t)left * c, image + ((size_t)iy * op->in_w + ix0 + left) * c, (right - left) * c);
            x5_fill_u8(d + (size_t)right * c, pad, (cols - right) * c);
        }
        memset(d + (size_t)cols * c, 0, 4);
    }
}

X5I x5_fields x5_span(const ps_conv_op *op, const x5_state *st, int32_t n, int32_t oy, int32_t ox, int P)
{
    const int32_t c = op->in_c;
    const size_t rstride = x5_span_row_bytes(op);
    x5_span_at(op, st->patch, rstride, n, oy, ox, P);
    x5_fields f = {st->patch, (size_t)op->stride_w * c, rstride, op->kernel_h, (op->kernel_w * c + 3) / 4, 0, 0};
    return f;
}

/* Where a block of the fused window puts its pixels' sums: first block (store, else
 * add), and after the last block (avg != NULL) the averages to out. */
typedef struct {
    int32_t *sums;
    int first;
    const x5_avg *avg;
    int8_t *out;
    size_t out_stride; /* G > 1 (x5_tile_out): window g's averages go to out + g * out_stride */
} x5_sums;

/* The tile's requantization (mode: x5_rqb_apply's) and its stores or window sums. */
X5I void x5_tile_out(const ps_quant_params *q, const x5_state *st, int32_t vb, int32_t lanes,
                     const __m512i acc[X5_PIXELS][4], int8_t *const *dsts, const x5_sums *sums, const int P,
                     const int NV, const int mode, const int G)
{
    const x5_rqb *rqb = st->rqb + vb;
    const __m512i zp = _mm512_set1_epi32(q->output_zp);
    if (sums == NULL && NV == 4) { /* a pixel's 64 channels: one pack, clamp and store */
        const __m512i lo8 = _mm512_set1_epi8((char)q->act_min), hi8 = _mm512_set1_epi8((char)q->act_max);
        const __mmask64 m = x5_bytes(0, lanes < 64 ? lanes : 64);
        for (int p = 0; p < P; p++) {
            __m512i y[4];
            for (int v = 0; v < 4; v++) {
                y[v] = x5_rqb_apply(acc[p][v], rqb + v, mode, zp);
            }
            _mm512_mask_storeu_epi8(dsts[p] + vb * 16, m, x5_pack4_clamp(y, lo8, hi8));
        }
        return;
    }
    const __m512i lo = _mm512_set1_epi32(q->act_min), hi = _mm512_set1_epi32(q->act_max);
    if (G > 1) { /* G whole windows of P / G pixels each (x5_pair_block): averaged at once */
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const __mmask16 m = x5_lanes(lanes - v * 16);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++) {
                __m512i total = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int p = g * (P / G); p < (g + 1) * (P / G); p++) {
                    total = _mm512_add_epi32(
                        total, _mm512_min_epi32(_mm512_max_epi32(x5_rqb_apply(acc[p][v], rqb + v, mode, zp), lo), hi));
                }
                _mm512_mask_cvtepi32_storeu_epi8(sums->out + (size_t)g * sums->out_stride + (vb + v) * 16, m,
                                                 x5_avg_apply(sums->avg, total));
            }
        }
        return;
    }
    for (int v = 0; v < NV; v++) {
        __mmask16 m = x5_lanes(lanes - v * 16);
        __m512i total = _mm512_setzero_si512();
        for (int p = 0; p < P; p++) {
            __m512i y = _mm512_min_epi32(_mm512_max_epi32(x5_rqb_apply(acc[p][v], rqb + v, mode, zp), lo), hi);
            if (sums == NULL) {
                _mm512_mask_cvtepi32_storeu_epi8(dsts[p] + (vb + v) * 16, m, y);
            }
            total = _mm512_add_epi32(total, y);
        }
        /* The fused window's pixels are never stored, only summed; the sums go to memory
         * only while more blocks of the window follow or ps_pool_average_run needs them. */
        if (sums != NULL) {
            int32_t *s = sums->sums + (vb + v) * 16;
            if (!sums->first) {
                total = _mm512_add_epi32(total, _mm512_maskz_loadu_epi32(m, s));
            }
            if (sums->avg != NULL) {
                _mm512_mask_cvtepi32_storeu_epi8(sums->out + (vb + v) * 16, m,
                                                 x5_avg_apply(sums->avg, total));
            } else {
                _mm512_mask_storeu_epi32(s, m, total);
            }
        }
    }
}

/* One pixel's VPDPBUSDs: its quad i (broadcast from memory: a load-port uop, where
 * VPERMD from a register would take the shuffle port that VPDPBUSD also uses) times the
 * NV weight vectors, into accumulators a<p>0 .. a<p>3. */
#define X5_OFF(p)                                                                             \
    (L ? ((p)&1) * f->pixel + (((p) >> 1) & 1) * f->dy + ((p) >> 2) * f->win : (size_t)(p) * f->pixel)
#define X5_DOTS(p)                                                                            \
    if (P > (p)) {                                                                            \
        int32_t quad;                                                                         \
        memcpy(&quad, patch + X5_OFF(p) + 4 * (size_t)i, 4);                     \
        const __m512i x = _mm512_set1_epi32(quad);                                            \
        a##p##0 = _mm512_dpbusd_epi32(a##p##0, x, w0);                                        \
        if (NV > 1) a##p##1 = _mm512_dpbusd_epi32(a##p##1, x, w1);                            \
        if (NV > 2) a##p##2 = _mm512_dpbusd_epi32(a##p##2, x, w2);                            \
        if (NV > 3) a##p##3 = _mm512_dpbusd_epi32(a##p##3, x, w3);                            \
    }
#define X5_ACCS(p) __m512i a##p##0 = c0, a##p##1 = c1, a##p##2 = c2, a##p##3 = c3

/* P pixels x NV vectors of 16 channels (P * NV <= 16 accumulators): dot products,
 * requantization, int8 stores. */
/* The P receptive fields are u8 at f (x5_fields). dsts[p]: pixel p's
 * output (channel oc0 of the chunk); or, with sums != NULL (dsts unused), the P
 * pixels' results are added to the chunk's channel sums instead. */
X5I void x5_tile(const ps_conv_op *op, const x5_state *st, int32_t vb, int32_t lanes,
                 const x5_fields *f, int8_t *const *dsts,
                 const x5_sums *sums, const int P, const int NV, const int G, const int L)
{
    const ps_quant_params *q = op->quant;
    const size_t qstride = (size_t)st->nvec * 64;
    const int8_t *w = st->wpack + (size_t)vb * 64;
    /* Named accumulators, not an array: GCC 12 at -O3 copied (and spilled) an array's
     * accumulators on every iteration of the loop. */
    const __m512i c0 = _mm512_loadu_si512(st->cst + vb * 16);
    const __m512i c1 = NV > 1 ? _mm512_loadu_si512(st->cst + (vb + 1) * 16) : c0;
    const __m512i c2 = NV > 2 ? _mm512_loadu_si512(st->cst + (vb + 2) * 16) : c0;
    const __m512i c3 = NV > 3 ? _mm512_loadu_si512(st->cst + (vb + 3) * 16) : c0;
    X5_ACCS(0); X5_ACCS(1); X5_ACCS(2); X5_ACCS(3); X5_ACCS(4); X5_ACCS(5); X5_ACCS(6); X5_ACCS(7);
    for (int32_t r = 0; r < f->rows; r++) {
        const uint8_t *patch = f->base + (size_t)r * f->row;
        for (int32_t i = 0; i < f->quads; i++, w += qstride) {
            const __m512i w0 = _mm512_load_si512(w);
            const __m512i w1 = NV > 1 ? _mm512_load_si512(w + 64) : w0;
            const __m512i w2 = NV > 2 ? _mm512_load_si512(w + 128) : w0;
            const __m512i w3 = NV > 3 ? _mm512_load_si512(w + 192) : w0;
            X5_DOTS(0) X5_DOTS(1) X5_DOTS(2) X5_DOTS(3) X5_DOTS(4) X5_DOTS(5) X5_DOTS(6) X5_DOTS(7)
        }
    }
    const __m512i acc[X5_PIXELS][4] = {
        {a00, a01, a02, a03}, {a10, a11, a12, a13}, {a20, a21, a22, a23}, {a30, a31, a32, a33},
        {a40, a41, a42, a43}, {a50, a51, a52, a53}, {a60, a61, a62, a63}, {a70, a71, a72, a73}};
    if (st->q_mode == X5R_USUAL) { /* compiled apart */
        x5_tile_out(q, st, vb, lanes, acc, dsts, sums, P, NV, X5R_USUAL, G);
    } else {
        x5_tile_out(q, st, vb, lanes, acc, dsts, sums, P, NV, st->q_mode, G);
    }
}

#define X5_TILE_CASE(P, NV)                                                                   \
    case (P)*8 + (NV):                                                                        \
        x5_tile(op, st, vb, lanes, f, d, s, P, NV, 1, 0);                                      \
        break;

/* Pixels per block: 8, or 4 where 8 receptive fields would not fit X5_PATCH_BYTES. */
X5I int x5_block_pixels(const x5_state *st)
{
    return x5_patch_stride(st) * X5_PIXELS <= X5_PATCH_BYTES ? X5_PIXELS : 4;
}

/* P (<= x5_block_pixels) gathered pixels (fields) through every vector of the chunk: up
 * to 8 pixels x 2 vectors or 4 pixels x 4 vectors at a time (at least 8 independent
 * VPDPBUSD chains, to cover its latency). */
X5I void x5_gemm_block(const ps_conv_exec *ex, int P, const x5_fields *fields, int8_t *const *dsts,
                       const x5_sums *sums)
{
    const ps_conv_op *op = ex->op;
    const x5_state *st = (const x5_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0;
    for (int32_t vb = 0; vb < st->nvec; vb += 4) {
        const int NV = st->nvec - vb < 4 ? (int)(st->nvec - vb) : 4;
        const int32_t lanes = cc - vb * 16;
        if (NV <= 2) {
            const x5_fields *f = fields;
            int8_t *const *d = dsts;
            const x5_sums *s = sums;
            switch (P * 8 + NV) {
                X5_TILE_CASE(1, 1) X5_TILE_CASE(2, 1) X5_TILE_CASE(3, 1) X5_TILE_CASE(4, 1)
                X5_TILE_CASE(5, 1) X5_TILE_CASE(6, 1) X5_TILE_CASE(7, 1) X5_TILE_CASE(8, 1)
                X5_TILE_CASE(1, 2) X5_TILE_CASE(2, 2) X5_TILE_CASE(3, 2) X5_TILE_CASE(4, 2)
                X5_TILE_CASE(5, 2) X5_TILE_CASE(6, 2) X5_TILE_CASE(7, 2) X5_TILE_CASE(8, 2)
            default:
                break;
            }
            continue;
        }
        for (int p0 = 0; p0 < P; p0 += 4) { /* 3-4 vectors: 4 pixels at a time */
            x5_fields part = *fields;
            part.base += (size_t)p0 * fields->pixel;
            const x5_fields *f = &part;
            int8_t *const *d = dsts != NULL ? dsts + p0 : NULL;
            x5_sums part_sums;
            const x5_sums *s = sums;
            if (sums != NULL) { /* only the block's first part starts the sums, its last ends them */
                part_sums = *sums;
                part_sums.first = sums->first && p0 == 0;
                part_sums.avg = p0 + 4 >= P ? sums->avg : NULL;
                s = &part_sums;
            }
            switch ((P - p0 < 4 ? P - p0 : 4) * 8 + NV) {
                X5_TILE_CASE(1, 3) X5_TILE_CASE(2, 3) X5_TILE_CASE(3, 3) X5_TILE_CASE(4, 3)
                X5_TILE_CASE(1, 4) X5_TILE_CASE(2, 4) X5_TILE_CASE(3, 4) X5_TILE_CASE(4, 4)
            default:
                break;
            }
        }
    }
}

X5 static void x5_gemm_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                           int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const x5_state *st = (const x5_state *)ex->state;
    /* spans pay for fields in registers too, but for 1xN kernels (one load per pixel) */
    const int span = x5_span_applies(ex->op, st) && (st->kpad > 64 || ex->op->kernel_h > 1);
    const int in_register = st->kpad <= 64 && !span;
    x5_rowctx rc;
    rc.pointwise = rc.contiguous = rc.rows = rc.iy0 = 0; /* set by x5_rowctx_init before use */
    if (in_register) {
        x5_rowctx_init(&rc, ex->op, st, n, oy);
    }
    const int block = span ? X5_PIXELS : x5_block_pixels(st);
    for (int32_t ox = ox0; ox < ox1; ox += block) {
        const int P = ox1 - ox < block ? (int)(ox1 - ox) : block;
        int8_t *dsts[X5_PIXELS];
        x5_fields f = x5_patch_fields(st);
        if (span) {
            f = x5_span(ex->op, st, n, oy, ox, P);
        }
        for (int p = 0; p < P; p++) {
            if (in_register) {
                _mm512_store_si512(st->patch + (size_t)p * 64, x5_patch_reg(ex->op, &rc, ox + p));
            } else if (!span) {
                x5_gather(ex->op, st, n, oy, ox + p, st->patch + (size_t)p * st->kpad);
            }
            dsts[p] = dst + (size_t)(ox - ox0 + p) * dst_stride;
        }
        x5_gemm_block(ex, P, &f, dsts, NULL);
    }
}

X5 static void x5_zero_sums(int32_t *sums, int32_t cc)
{
    for (int32_t c = 0; c < cc; c += 16) {
        _mm512_mask_storeu_epi32(sums + c, x5_lanes(cc - c), _mm512_setzero_si512());
    }
}

/* The ring mode's window (see ps_conv_exec.ring_window): sums in registers. */
X5 static void x5_ring_window(const int8_t *ring, size_t row_bytes, int32_t pool_h, int32_t y0,
                              int32_t y1, int32_t x0, int32_t x1, int32_t cc,
                              const ps_pool_params *pool, int32_t *sums, int8_t *out)
{
    const int32_t count = (y1 - y0) * (x1 - x0);
    x5_avg a;
    const int vector_avg = x5_avg_init(&a, count, pool);
    for (int32_t c = 0; c < cc; c += 16) {
        const __mmask16 m = x5_lanes(cc - c);
        __m512i s = _mm512_setzero_si512();
        for (int32_t y = y0; y < y1; y++) {
            const int8_t *p = ring + (size_t)(y % pool_h) * row_bytes + (size_t)x0 * cc + c;
            for (int32_t x = x0; x < x1; x++, p += cc) {
                s = _mm512_add_epi32(s, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
            }
        }
        _mm512_mask_storeu_epi32(sums + c, m, s);
        if (vector_avg) {
            _mm512_mask_cvtepi32_storeu_epi8(out + c, m, x5_avg_apply(&a, s));
        }
    }
    if (!vector_avg) {
        ps_pool_average_run(sums, count, cc, pool, out);
    }
}

/* The ring mode's pooled row (ps_conv_exec.ring_row), separable: per 16 channels, each conv
 * column's sum over the window rows once (a strip of at most X5_RING_COLS columns at a
 * time), then each window's sum of its columns' sums; each count's average made once
 * (x5_avg_for). Overlapping windows (a 3x3 pool at stride 1) share
 * their columns, where x5_ring_window sums every window's pixels apart. */
#define X5_RING_COLS 64

X5 static void x5_ring_row(const ps_conv_exec *ex, const int8_t *ring, size_t row_bytes, int32_t y0,
                           int32_t y1, int32_t cc, const ps_pool_params *pool, int32_t pooled_w,
                           int32_t *sums, int8_t *out, int32_t out_stride)
{
    x5_state *st = (x5_state *)ex->state;
    const int32_t conv_w = ex->op->out_w, pool_h = pool->pool_h;
    if (pool->pool_w > X5_RING_COLS || (int64_t)(y1 - y0) * pool->pool_w > (INT32_C(1) << 20)) {
        for (int32_t px = 0; px < pooled_w; px++) { /* wide windows, or counts x5_avg leaves out */
            int32_t x0, x1;
            ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, conv_w, &x0, &x1);
            x5_ring_window(ring, row_bytes, pool_h, y0, y1, x0, x1, cc, pool, sums,
                           out + (size_t)px * out_stride);
        }
        return;
    }
    __m512i col[X5_RING_COLS];
    const int32_t slot0 = ps_mod32(y0, pool_h);
    for (int32_t c = 0; c < cc; c += 16) {
        const __mmask16 m = x5_lanes(cc - c);
        for (int32_t pa = 0, pb; pa < pooled_w; pa = pb) {
            /* windows pa .. pb - 1: their columns xa .. xb - 1, at most X5_RING_COLS */
            int32_t xa, xb, x0, x1;
            ps_pool_window(pa, pool->stride_w, pool->pad_left, pool->pool_w, conv_w, &xa, &xb);
            for (pb = pa + 1; pb < pooled_w; pb++) {
                ps_pool_window(pb, pool->stride_w, pool->pad_left, pool->pool_w, conv_w, &x0, &x1);
                if (x1 - xa > X5_RING_COLS) {
                    break;
                }
                xb = x1;
            }
            for (int32_t x = xa; x < xb; x++) {
                const int8_t *p = ring + (size_t)x * cc + c;
                __m512i s = _mm512_setzero_si512();
                for (int32_t y = y0, slot = slot0; y < y1; y++) {
                    s = _mm512_add_epi32(s, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p + (size_t)slot * row_bytes)));
                    slot = slot + 1 == pool_h ? 0 : slot + 1;
                }
                col[x - xa] = s;
            }
            for (int32_t px = pa; px < pb; px++) {
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, conv_w, &x0, &x1);
                __m512i total = _mm512_setzero_si512();
                for (int32_t x = x0; x < x1; x++) {
                    total = _mm512_add_epi32(total, col[x - xa]);
                }
                /* count <= 2^20: never NULL */
                const x5_avg *a = x5_avg_for(st, (y1 - y0) * (x1 - x0), pool);
                _mm512_mask_cvtepi32_storeu_epi8(out + (size_t)px * out_stride + c, m, x5_avg_apply(a, total));
            }
        }
    }
}

/* A pointwise conv / fully connected layer of at most X5_GEMV_PIXELS pixels (a batch-1
 * dense layer, a conv on a 1x1 image): packing the weights would cost more than all the
 * dot products, so each channel's weight row is read where it is, VPDPBUSD against every
 * pixel's u8 row (64 bytes at a time, the tail masked to zero weights), and 16 channels'
 * reduced sums are requantized as one vector. Same folding as the GEMM:
 * acc = bias - (128 + zp) sum w + sum (x + 128) w. */
#define X5_GEMV_PIXELS 4

X5I void x5_gemv_chunk(const ps_conv_op *op, const uint8_t *xs, int32_t xstride, int32_t c0,
                       int8_t *output, const int P)
{
    const int32_t k = op->in_c, lanes = op->out_c - c0 < 16 ? op->out_c - c0 : 16;
    const int32_t chunks = (k + 63) / 64;
    const __mmask64 tail = k % 64 ? (__mmask64)((UINT64_C(1) << (k % 64)) - 1u) : ~(__mmask64)0;
    const __m512i ones = _mm512_set1_epi8(1);
    int32_t tot[X5_GEMV_PIXELS][16] __attribute__((aligned(64)));
    int32_t wsum[16] __attribute__((aligned(64)));
    for (int32_t l = 0; l < lanes; l++) {
        const int8_t *w = op->filter + (size_t)(c0 + l) * k;
        __m512i acc[X5_GEMV_PIXELS], sw = _mm512_setzero_si512();
        for (int p = 0; p < P; p++) {
            acc[p] = _mm512_setzero_si512();
        }
        for (int32_t j = 0; j < chunks; j++) {
            const __m512i wv = _mm512_maskz_loadu_epi8(j == chunks - 1 ? tail : ~(__mmask64)0, w + 64 * j);
            sw = _mm512_dpbusd_epi32(sw, ones, wv);
            for (int p = 0; p < P; p++) {
                acc[p] = _mm512_dpbusd_epi32(acc[p], _mm512_load_si512(xs + (size_t)p * xstride + 64 * j), wv);
            }
        }
        wsum[l] = _mm512_reduce_add_epi32(sw);
        for (int p = 0; p < P; p++) {
            tot[p][l] = _mm512_reduce_add_epi32(acc[p]);
        }
    }
    const __mmask16 m = x5_lanes(lanes);
    const __m512i bias = op->bias != NULL ? _mm512_maskz_loadu_epi32(m, op->bias + c0) : _mm512_setzero_si512();
    const __m512i cst = _mm512_sub_epi32(bias, _mm512_mullo_epi32(_mm512_set1_epi32(128 + op->quant->input_zp),
                                                                  _mm512_maskz_load_epi32(m, wsum)));
    /* x5_requant: a block (x5_rqb) would serve at most X5_GEMV_PIXELS pixels, too few to
     * repay its setup (measured: a batch-1 fully connected layer ran slower) */
    const x5_rq r = x5_rq_load(op->quant, c0, m);
    for (int p = 0; p < P; p++) {
        const __m512i acc = _mm512_add_epi32(cst, _mm512_maskz_load_epi32(m, tot[p]));
        _mm512_mask_cvtepi32_storeu_epi8(output + (size_t)p * op->out_c + c0, m, x5_requant(acc, &r));
    }
}

/* xs: X5_GEMV_PIXELS rows of X5_MAX_KPAD bytes, 64-aligned (the GEMM's patch buffer) */
X5 static void x5_gemv(const ps_conv_op *op, int32_t pixels, uint8_t *xs, int8_t *output)
{
    const int32_t k = op->in_c, xstride = (k + 63) / 64 * 64;
    for (int32_t p = 0; p < pixels; p++) { /* u8 rows, zero up to the 64-byte boundary */
        x5_copy_u8(xs + (size_t)p * xstride, op->input + (size_t)p * k, k);
        x5_fill_u8(xs + (size_t)p * xstride + k, 0, xstride - k);
    }
    for (int32_t c0 = 0; c0 < op->out_c; c0 += 16) {
        switch (pixels) {
        case 1: x5_gemv_chunk(op, xs, xstride, c0, output, 1); break;
        case 2: x5_gemv_chunk(op, xs, xstride, c0, output, 2); break;
        case 3: x5_gemv_chunk(op, xs, xstride, c0, output, 3); break;
        default: x5_gemv_chunk(op, xs, xstride, c0, output, 4); break;
        }
    }
}

/* The fused window: its pixels in row-major order, 4 at a time across its rows. */
#define X5_WINDOW_ROWS 4 /* window rows whose x5_rowctx are kept across a pooled row */

/* Two horizontally adjacent windows of W = P / 2 pixels each (W <= 4) as one block of P
 * fields (window 0's, then window 1's, each row-major): one tile, 2 * W accumulator
 * chains per vector, each window's requantized pixels summed and averaged apart
 * (x5_tile_out, G = 2). At most 2 vectors of channels (so P = 8 fits the 16 accumulators). */
#define X5_PAIR_CASE(P, NV)                                                                   \
    case (P)*8 + (NV):                                                                        \
        x5_tile(ex->op, st, 0, cc, f, NULL, to, P, NV, 2, 0);                                  \
        break;

X5I void x5_pair_block(const ps_conv_exec *ex, int P, const x5_fields *f, const x5_sums *to, int L)
{
    const x5_state *st = (const x5_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0;
    if (L) { /* two 2x2 windows on spans (x5_fields.dy, win) */
        if (st->nvec == 1) {
            x5_tile(ex->op, st, 0, cc, f, NULL, to, 8, 1, 2, 1);
        } else {
            x5_tile(ex->op, st, 0, cc, f, NULL, to, 8, 2, 2, 1);
        }
        return;
    }
    switch (P * 8 + st->nvec) {
        X5_PAIR_CASE(2, 1) X5_PAIR_CASE(4, 1) X5_PAIR_CASE(6, 1) X5_PAIR_CASE(8, 1)
        X5_PAIR_CASE(2, 2) X5_PAIR_CASE(4, 2) X5_PAIR_CASE(6, 2) X5_PAIR_CASE(8, 2)
    default:
        break;
    }
}

/* The window rows' x5_rowctx (x5_gemm_pooled_row, keep), made once per pooled row, when a
 * window first builds fields (2x2 pairs on spans need none). */
X5I void x5_window_rows(x5_rowctx *rcs, int *ready, const ps_conv_op *op, const x5_state *st, int32_t n,
                        int32_t y0, int32_t y1)
{
    for (int32_t j = 0; !*ready && j < y1 - y0; j++) {
        x5_rowctx_init(&rcs[j], op, st, n, y0 + j);
    }
    *ready = 1;
}

X5 static void x5_gemm_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                  const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                  int32_t *sums, int8_t *out, int32_t out_stride)
{
    x5_state *st = (x5_state *)ex->state;
    const ps_conv_op *op = ex->op;
    const int32_t cc = ex->oc1 - ex->oc0;
    const int in_register = st->kpad <= 64;
    const int keep = in_register && y1 - y0 <= X5_WINDOW_ROWS;
    const int block = x5_block_pixels(st);
    (void)tile; /* the window's pixels are summed in registers, never stored */
    x5_rowctx rcs[X5_WINDOW_ROWS];
    rcs[0].pointwise = rcs[0].contiguous = rcs[0].rows = rcs[0].iy0 = 0;
    int rows_ready = 0; /* keep: rcs[] made (x5_window_rows) */
    /* windows in pairs (x5_pair_block) where their fields are built in registers and two
     * windows' pixels fit one block of 8 */
    const int pairs = keep && st->nvec <= 2 && (y1 - y0) * pool->pool_w <= X5_PIXELS / 2;
    /* 2x2 windows on spans: conv rows y0 and y0 + 1, every column, kernel row by kernel
     * row (x5_span_at), after the X5_PIXELS fields of the other windows' blocks */
    const size_t srow = x5_span_row_bytes_for(op, op->out_w);
    const int spans = pairs && y1 - y0 == 2 && pool->pool_w == 2 && x5_span_applies(op, st) &&
                      X5_PIXELS * 64 + 2 * (size_t)op->kernel_h * srow <= X5_PATCH_BYTES;
    uint8_t *const sp = st->patch + X5_PIXELS * 64;
    if (spans) {
        x5_span_at(op, sp, srow, n, y0, 0, op->out_w);
        x5_span_at(op, sp + (size_t)op->kernel_h * srow, srow, n, y0 + 1, 0, op->out_w);
    }
    for (int32_t px = 0; px < pooled_w; px++, out += out_stride) {
        int32_t x0, x1;
        ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w, &x0, &x1);
        const int32_t pixels = (y1 - y0) * (x1 - x0);
        if (pairs && px + 1 < pooled_w) {
            int32_t xb0, xb1;
            ps_pool_window(px + 1, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w, &xb0, &xb1);
            const x5_avg *avg = x5_avg_for(st, pixels, pool);
            if (xb1 - xb0 == x1 - x0 && avg != NULL) { /* the same count: one average for both */
                if (spans && x1 - x0 == 2) {
                    const size_t pixel = (size_t)op->stride_w * op->in_c;
                    const x5_fields f = {sp + (size_t)x0 * pixel, pixel, srow, op->kernel_h,
                                         (op->kernel_w * op->in_c + 3) / 4, (size_t)op->kernel_h * srow,
                                         (size_t)(xb0 - x0) * pixel};
                    const x5_sums to = {sums, 1, avg, out, (size_t)out_stride};
                    x5_pair_block(ex, 8, &f, &to, 1);
                    px++;
                    out += out_stride;
                    continue;
                }
                x5_window_rows(rcs, &rows_ready, op, st, n, y0, y1);
                int p = 0;
                for (int32_t j = 0; j < y1 - y0; j++) {
                    for (int32_t x = x0; x < x1; x++, p++) {
                        _mm512_store_si512(st->patch + (size_t)p * 64, x5_patch_reg(op, &rcs[j], x));
                    }
                }
                for (int32_t j = 0; j < y1 - y0; j++) {
                    for (int32_t x = xb0; x < xb1; x++, p++) {
                        _mm512_store_si512(st->patch + (size_t)p * 64, x5_patch_reg(op, &rcs[j], x));
                    }
                }
                const x5_sums to = {sums, 1, avg, out, (size_t)out_stride};
                const x5_fields f = x5_patch_fields(st);
                x5_pair_block(ex, p, &f, &to, 0);
                px++;
                out += out_stride;
                continue;
            }
        }
        const x5_avg *avg = x5_avg_for(st, pixels, pool);
        int32_t y = y0, x = x0;
        const x5_rowctx *rc = &rcs[0];
        if (in_register && !keep) {
            x5_rowctx_init(&rcs[0], op, st, n, y0);
        }
        if (keep) {
            x5_window_rows(rcs, &rows_ready, op, st, n, y0, y1);
        }
        for (int32_t i = 0; i < pixels; i += block) {
            const int P = pixels - i < block ? (int)(pixels - i) : block;
            for (int p = 0; p < P; p++) {
                if (in_register) {
                    _mm512_store_si512(st->patch + (size_t)p * 64, x5_patch_reg(op, rc, x));
                } else {
                    x5_gather(op, st, n, y, x, st->patch + (size_t)p * st->kpad);
                }
                if (++x == x1) {
                    x = x0;
                    if (++y < y1 && in_register) {
                        if (keep) {
                            rc = &rcs[y - y0];
                        } else {
                            x5_rowctx_init(&rcs[0], op, st, n, y);
                        }
                    }
                }
            }
            const int last = i + P >= pixels;
            x5_sums to = {sums, i == 0, last ? avg : NULL, out, 0};
            const x5_fields f = x5_patch_fields(st);
            x5_gemm_block(ex, P, &f, NULL, &to);
        }
        if (avg == NULL) {
            ps_pool_average_run(sums, pixels, cc, pool, out);
        }
    }
}

/* ---- GEMM with few output channels: pixels in the lanes --------------------------------
 *
 * With cc <= 8 output channels, 16 channel lanes would be mostly idle (and requantized
 * for nothing). Here a vector holds g pixels x cc channels instead (g = 2, 4 or 8,
 * g * cc <= 16): lane l is channel l % cc of pixel l / cc of a group of g consecutive
 * pixels. The packed weights and folded bias of the plain GEMM are replicated over the g
 * pixel slots (lanes from g * cc on: 0). The g pixels' receptive fields sit in two
 * registers (g / 2 each, 128 / g bytes apart), and one VPERMT2D per quad hands each lane
 * its pixel's quad. The requantized lanes are then exactly the NHWC bytes of the g pixels. */

/* Pixels per vector, or 0 where the plain GEMM runs (more channels, or a receptive field
 * that is gathered in memory). */
static int32_t x5_few_group(int32_t out_c, int32_t kpad)
{
    int32_t g = 8;
    while (g >= 2 && (g * out_c > 16 || g * kpad > 128)) {
        g /= 2;
    }
    return g >= 2 ? g : 0;
}

X5 static int32_t x5_few_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    x5_state *st = (x5_state *)ex->state;
    const int32_t end = x5_gemm_prepare(ex, oc0); /* one chunk: cc <= 8 */
    const int32_t cc = ex->oc1 - ex->oc0, g = st->group, half = g / 2;
    const int32_t row_len = op->kernel_w * op->in_c, step = op->stride_w * op->in_c;
    const __mmask16 m = x5_lanes(g * cc);
    /* lane l: channel rep = l - p * cc of pixel p = l / cc (counted by compares: no
     * divisions, this runs per call) */
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i one = _mm512_set1_epi32(1);
    __m512i pix = _mm512_setzero_si512();
    for (int32_t j = 1; j < g; j++) {
        pix = _mm512_mask_add_epi32(pix, _mm512_cmpge_epi32_mask(iota, _mm512_set1_epi32(j * cc)), pix, one);
    }
    const __m512i idx = _mm512_sub_epi32(iota, _mm512_mullo_epi32(pix, _mm512_set1_epi32(cc)));
    const __mmask16 chans = x5_lanes(cc);
    const __m512i mult = _mm512_maskz_permutexvar_epi32(
        m, idx, _mm512_maskz_loadu_epi32(chans, op->quant->multiplier + oc0));
    const __m512i shift = _mm512_maskz_permutexvar_epi32(
        m, idx, _mm512_maskz_loadu_epi32(chans, op->quant->shift + oc0));
    if (st->few_direct) {
        /* lane l's bytes: pixel p's offset p * step in its kernel rows' windows */
        _mm512_storeu_si512(st->few_pofs,
                            _mm512_maskz_mullo_epi32(m, _mm512_and_si512(_mm512_mullo_epi32(pix, _mm512_set1_epi32(step)),
                                                                         _mm512_set1_epi32(0xFF)),
                                                     _mm512_set1_epi32(0x01010101)));
        /* rf byte t (< kpad <= 64): kernel row ky = t / row_len, tr = t % row_len; bytes from
         * k on: tr 0 and the kernel row of their quad's byte 0 (their weights are 0) */
        const __m512i t = _mm512_setr_epi32(0x03020100, 0x07060504, 0x0B0A0908, 0x0F0E0D0C,
                                            0x13121110, 0x17161514, 0x1B1A1918, 0x1F1E1D1C,
                                            0x23222120, 0x27262524, 0x2B2A2928, 0x2F2E2D2C,
                                            0x33323130, 0x37363534, 0x3B3A3938, 0x3F3E3D3C);
        const __m512i one8 = _mm512_set1_epi8(1), len = _mm512_set1_epi8((char)row_len);
        __m512i ky = _mm512_setzero_si512(), tr = t;
        for (int32_t j = 1; j < op->kernel_h; j++) { /* k = kernel_h * row_len <= 64 */
            const __mmask64 past = _mm512_cmpge_epu8_mask(t, _mm512_set1_epi8((char)(j * row_len)));
            ky = _mm512_mask_add_epi8(ky, past, ky, one8);
            tr = _mm512_mask_sub_epi8(tr, past, tr, len);
        }
        const __mmask64 tail = _mm512_cmpge_epu8_mask(t, _mm512_set1_epi8((char)st->k));
        const __m512i ky0 = _mm512_mullo_epi32(_mm512_and_si512(ky, _mm512_set1_epi32(0xFF)),
                                               _mm512_set1_epi32(0x01010101));
        ky = _mm512_mask_mov_epi8(ky, tail, ky0);
        _mm512_storeu_si512(st->few_qtr, _mm512_maskz_mov_epi8(~tail, tr));
        _mm512_storeu_si512(st->few_qky, ky);
        st->few_qmix = (int32_t)(_mm512_cmpneq_epi32_mask(ky, ky0) & x5_lanes(st->kpad / 4));
    } else {
        /* pixel p's quad 0: register p / half, dword (p % half) * 16 / half */
        const int32_t lh = half == 4 ? 2 : half - 1;
        const __m512i sidx = _mm512_add_epi32(
            _mm512_slli_epi32(_mm512_srli_epi32(pix, (unsigned)lh), 4),
            _mm512_sllv_epi32(_mm512_and_si512(pix, _mm512_set1_epi32(half - 1)), _mm512_set1_epi32(4 - lh)));
        _mm512_storeu_si512(st->few_idx, _mm512_maskz_mov_epi32(m, sidx));
        const int32_t slot = 64 / half;
        for (int32_t s = 0; st->few_vbmi && s < half; s++) { /* for x5_few_win_regs */
            for (int32_t t = 0, tr = 0; t < slot; t++) { /* tr = t % row_len */
                st->few_perm[s * slot + t] = (int8_t)(t < st->k ? s * step + tr : 0);
                if (++tr == row_len) {
                    tr = 0;
                }
            }
        }
    }
    for (int32_t i = 0; i < st->kpad / 4; i++) {
        int8_t *w = st->wpack + (size_t)i * 64;
        _mm512_store_si512(w, _mm512_maskz_permutexvar_epi32(m, idx, _mm512_load_si512(w)));
    }
    _mm512_storeu_si512(st->cst, _mm512_maskz_permutexvar_epi32(m, idx, _mm512_loadu_si512(st->cst)));
    /* the chunk's one block (x5_gemm_prepare leaves it to this), lanes replicated per pixel slot;
     * the same channels as the mode x5_gemm_prepare chose from */
    x5_rqb_init(&st->rqb[0], op->quant, mult, shift, st->q_mode);
    return end;
}

/* The chunk's requantization (its one block, x5_few_prepare) in locals. */
typedef struct {
    x5_rqb b;
    int mode;
    __m512i zp, lo, hi;
} x5_frq;

X5I x5_frq x5_frq_load(const ps_quant_params *q, const x5_state *st)
{
    x5_frq f;
    f.b = st->rqb[0];
    f.mode = st->q_mode;
    f.zp = _mm512_set1_epi32(q->output_zp);
    f.lo = _mm512_set1_epi32(q->act_min);
    f.hi = _mm512_set1_epi32(q->act_max);
    return f;
}

X5I __m512i x5_few_requant(__m512i acc, const x5_frq *f, const int mode)
{
    return _mm512_min_epi32(_mm512_max_epi32(x5_rqb_apply(acc, &f->b, mode, f->zp), f->lo), f->hi);
}

#define X5_FEW_VECTORS 4 /* vectors (groups of g pixels) per block */
#define X5_FEW_ROWS 8    /* kernel rows whose input windows the VPERMB gather keeps */
#define X5_FEW_POOL_ROWS 2 /* fused window rows the few-channel window body takes */

/* The block's pixels: pixel j is conv pixel xs[j] of the row of rcs[j], j < count. */
typedef struct {
    const x5_rowctx *rc[X5_FEW_VECTORS * 8];
    int32_t x[X5_FEW_VECTORS * 8];
    int32_t count;
} x5_few_pixels;

/* Pixels j0 .. j0 + half - 1 (those < count) as u8, 64 / half bytes apart. */
X5I __m512i x5_few_reg(const ps_conv_op *op, const x5_few_pixels *px, int32_t j0, int32_t half)
{
    __m512i r = _mm512_set1_epi8((char)op->quant->input_zp); /* padding taps */
    const int32_t n = px->count - j0 < half ? px->count - j0 : half;
    for (int32_t s = 0; s < n; s++) {
        r = x5_patch_into(op, px->rc[j0 + s], px->x[j0 + s], r, s * (64 / half));
    }
    return _mm512_xor_si512(r, _mm512_set1_epi8((char)0x80));
}

/* NB vectors of G pixels each (the last ones may be missing) -> y[b]: the requantized
 * lanes. NB and G are constants here, so the patch registers stay in registers (a
 * masked merge into a spilled one would not forward to the loads that read it). */
X5I void x5_few_block(const ps_conv_op *op, const x5_state *st, const x5_few_pixels *px,
                      const __m512i *given, const x5_frq *r, __m512i *y, const int NB, const int G)
{
    const int half = G / 2;
    __m512i regs[2 * X5_FEW_VECTORS];
    for (int b = 0; b < NB; b++) { /* given: the caller built them */
        regs[2 * b] = given != NULL ? given[2 * b] : x5_few_reg(op, px, b * G, half);
        regs[2 * b + 1] = given != NULL ? given[2 * b + 1] : x5_few_reg(op, px, b * G + half, half);
    }
    const int32_t kq = st->kpad / 4;
    const int8_t *w = st->wpack;
    const __m512i one = _mm512_set1_epi32(1);
    __m512i idx = _mm512_loadu_si512(st->few_idx);
    __m512i acc[X5_FEW_VECTORS];
    for (int b = 0; b < NB; b++) {
        acc[b] = _mm512_loadu_si512(st->cst);
    }
    for (int32_t i = 0; i < kq; i++, w += 64, idx = _mm512_add_epi32(idx, one)) {
        const __m512i wv = _mm512_load_si512(w);
        for (int b = 0; b < NB; b++) {
            acc[b] = _mm512_dpbusd_epi32(
                acc[b], _mm512_permutex2var_epi32(regs[2 * b], idx, regs[2 * b + 1]), wv);
        }
    }
    if (r->mode == X5R_USUAL) { /* compiled apart */
        for (int b = 0; b < NB; b++) {
            y[b] = x5_few_requant(acc[b], r, X5R_USUAL);
        }
    } else {
        for (int b = 0; b < NB; b++) {
            y[b] = x5_few_requant(acc[b], r, r->mode);
        }
    }
}

#define X5_FEW_CASE(NB, G)                                  \
    case (NB)*16 + (G):                                     \
        x5_few_block(op, st, px, given, r, y, NB, G);       \
        break;

X5I void x5_few_block_n(const ps_conv_op *op, const x5_state *st, const x5_few_pixels *px,
                        const __m512i *given, const x5_frq *r, __m512i *y, int NB)
{
    switch (NB * 16 + st->group) {
        X5_FEW_CASE(1, 2) X5_FEW_CASE(2, 2) X5_FEW_CASE(3, 2) X5_FEW_CASE(4, 2)
        X5_FEW_CASE(1, 4) X5_FEW_CASE(2, 4) X5_FEW_CASE(3, 4) X5_FEW_CASE(4, 4)
        X5_FEW_CASE(1, 8) X5_FEW_CASE(2, 8) X5_FEW_CASE(3, 8) X5_FEW_CASE(4, 8)
    default:
        break;
    }
}

/* The group's pixels' int8 results to their NHWC places. */
X5I void x5_few_store(__m512i y, int32_t pixels, int32_t cc, int8_t *d, int32_t dst_stride)
{
    if (dst_stride == cc) { /* the group's NHWC bytes are adjacent */
        _mm512_mask_cvtepi32_storeu_epi8(d, x5_lanes(pixels * cc), y);
        return;
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int32_t s = 0; s < pixels; s++, d += dst_stride) {
        const __m512i v = _mm512_permutexvar_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(s * cc)), y);
        _mm512_mask_cvtepi32_storeu_epi8(d, x5_lanes(cc), v);
    }
}

X5 static void x5_few_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                          int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const x5_state *st = (const x5_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0, g = st->group;
    const x5_frq r = x5_frq_load(op->quant, st);
    x5_rowctx rc;
    x5_few_pixels pix;
    x5_rowctx_init(&rc, op, st, n, oy);
    for (int32_t j = 0; j < X5_FEW_VECTORS * 8; j++) {
        pix.rc[j] = &rc;
    }
    for (int32_t ox = ox0; ox < ox1; ox += X5_FEW_VECTORS * g) {
        const int32_t px = ox1 - ox < X5_FEW_VECTORS * g ? ox1 - ox : X5_FEW_VECTORS * g;
        const int NB = (int)((px + g - 1) / g);
        __m512i y[X5_FEW_VECTORS];
        pix.count = px;
        for (int32_t j = 0; j < px; j++) {
            pix.x[j] = ox + j;
        }
        x5_few_block_n(op, st, &pix, NULL, &r, y, NB);
        for (int b = 0; b < NB; b++) {
            x5_few_store(y[b], px - b * g < g ? px - b * g : g, cc,
                         dst + (size_t)(ox - ox0 + b * g) * dst_stride, dst_stride);
        }
    }
}

/* One conv row's kernel rows inside the input, for x5_few_win_regs. */
typedef struct {
    int32_t rows;
    __mmask64 mask[X5_FEW_ROWS]; /* kernel row i's bytes in every slot of a register */
    const int8_t *row[X5_FEW_ROWS]; /* its input row */
} x5_few_win;

/* 0 where the windows do not apply (pointwise, dilated or too many kernel rows). */
X5I int x5_few_win_init(x5_few_win *fw, const x5_rowctx *rc, int32_t half)
{
    fw->rows = 0;
    if (rc->pointwise || !rc->contiguous || rc->rows > X5_FEW_ROWS) {
        return 0;
    }
    fw->rows = rc->rows;
    for (int32_t i = 0; i < rc->rows; i++) {
        fw->mask[i] = 0;
        for (int32_t s = 0; s < half; s++) {
            fw->mask[i] |= rc->mask[i] << (s * (64 / half));
        }
        fw->row[i] = (const int8_t *)(rc->base[i] + (uintptr_t)(rc->ky[i] * rc->frow));
    }
    return 1;
}

/* nregs patch registers (u8) of consecutive pixels of one conv row, register k holding
 * pixels k * half ..: each kernel row's span (<= 64) input bytes from column ix on are
 * loaded once (columns outside the input: input_zp, i.e. padding taps) and VPERMB
 * (st->few_perm, moved (k * half) pixels on) lays them out. */
X5VI void x5_few_win_regs(const x5_few_win *fw, int32_t ix, int32_t span, const ps_conv_op *op,
                          int32_t half, __m512i perm, int nregs, __m512i *regs)
{
    const int32_t c = op->in_c, step = op->stride_w * c;
    const __m512i fill = _mm512_set1_epi8((char)op->quant->input_zp);
    const int32_t lo = ix < 0 ? -ix * c : 0;
    const int32_t hi = (op->in_w - ix) * c < span ? (op->in_w - ix) * c : span;
    /* only the masked bytes are read (and can fault): the address may lie before the row */
    const __mmask64 inside = hi > lo ? x5_bytes(lo, hi - lo) : 0;
    __m512i win[X5_FEW_ROWS];
    for (int32_t i = 0; i < fw->rows; i++) {
        win[i] = _mm512_mask_loadu_epi8(fill, inside, (const void *)((uintptr_t)fw->row[i] + (uintptr_t)((ptrdiff_t)ix * c)));
    }
    for (int k = 0; k < nregs; k++) {
        const __m512i idx = _mm512_add_epi8(perm, _mm512_set1_epi8((char)(k * half * step)));
        __m512i v = fill; /* kernel rows outside the input: x = zp */
        for (int32_t i = 0; i < fw->rows; i++) {
            v = _mm512_mask_permutexvar_epi8(v, fw->mask[i], idx, win[i]);
        }
        regs[k] = _mm512_xor_si512(v, _mm512_set1_epi8((char)0x80));
    }
}

/* x5_few_row where the CPU has VPERMB: a block of pixels whose taps are all inside the
 * input horizontally (and kernel rows contiguous) loads each kernel row's input bytes
 * once, in one window of at most 64 bytes, and VPERMB lays them out as every pixel's
 * receptive field (st->few_perm), instead of masked loads per pixel and kernel row. */
X5V static void x5_few_row_vbmi(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                                int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const x5_state *st = (const x5_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0, g = st->group, half = g / 2;
    const int32_t c = op->in_c, row_len = op->kernel_w * c, step = op->stride_w * c;
    const x5_frq r = x5_frq_load(op->quant, st);
    const __m512i perm = _mm512_loadu_si512(st->few_perm);
    x5_rowctx rc;
    x5_few_pixels pix;
    x5_rowctx_init(&rc, op, st, n, oy);
    x5_few_win fw;
    const int windows = x5_few_win_init(&fw, &rc, half);
    for (int32_t j = 0; j < X5_FEW_VECTORS * 8; j++) {
        pix.rc[j] = &rc;
    }
    for (int32_t ox = ox0; ox < ox1; ox += X5_FEW_VECTORS * g) {
        const int32_t px = ox1 - ox < X5_FEW_VECTORS * g ? ox1 - ox : X5_FEW_VECTORS * g;
        const int NB = (int)((px + g - 1) / g);
        const int32_t ix = ox * op->stride_w - op->pad_left;
        const int32_t span = (px - 1) * step + row_len; /* the block's bytes of a kernel row */
        __m512i y[X5_FEW_VECTORS];
        if (windows && span <= 64) {
            __m512i regs[2 * X5_FEW_VECTORS];
            x5_few_win_regs(&fw, ix, span, op, half, perm, 2 * NB, regs);
            x5_few_block_n(op, st, &pix, regs, &r, y, NB);
        } else {
            pix.count = px;
            for (int32_t j = 0; j < px; j++) {
                pix.x[j] = ox + j;
            }
            x5_few_block_n(op, st, &pix, NULL, &r, y, NB);
        }
        for (int b = 0; b < NB; b++) {
            x5_few_store(y[b], px - b * g < g ? px - b * g : g, cc,
                         dst + (size_t)(ox - ox0 + b * g) * dst_stride, dst_stride);
        }
    }
}

/* The fused window: its pixels in row-major order, g per vector; the window's sums stay in
 * a register (lane l sums channel l % cc) and are folded onto the cc channels at the end.
 * With VBMI, a window no wider than g whose taps are inside the input horizontally takes
 * one vector per window row, built by x5_few_win_regs. */
typedef void (*x5_few_win_fn)(const x5_few_win *fw, int32_t ix, int32_t span, const ps_conv_op *op,
                              int32_t half, __m512i perm, int nregs, __m512i *regs);

/* win_regs: x5_few_win_regs (a constant, inlined into a VBMI caller), or NULL without VBMI */
/* A window's pooled average from its g-slot sums (lane l: channel l % cc) to out. */
X5I void x5_few_finish(x5_state *st, __m512i total, int32_t cc, int32_t pixels,
                       const ps_pool_params *pool, int32_t *sums, int8_t *out)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i folded = total; /* lane c < cc: sum over the g pixel slots */
    for (int32_t s = 1; s < st->group; s++) {
        folded = _mm512_add_epi32(
            folded, _mm512_permutexvar_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(s * cc)), total));
    }
    const x5_avg *avg = x5_avg_for(st, pixels, pool);
    if (avg != NULL) { /* summed in registers: the tile and sums scratch stay untouched */
        _mm512_mask_cvtepi32_storeu_epi8(out, x5_lanes(cc), x5_avg_apply(avg, folded));
    } else {
        _mm512_mask_storeu_epi32(sums, x5_lanes(cc), folded);
        ps_pool_average_run(sums, pixels, cc, pool, out);
    }
}

/* win_regs: x5_few_win_regs (a constant, inlined into a VBMI caller), or NULL without VBMI.
 * With it, two windows of at most two rows go through one block (four vectors, for the
 * dot products' latency). */
X5I void x5_few_pooled(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                       const ps_pool_params *pool, int32_t pooled_w, int8_t *tile, int8_t *out,
                       int32_t out_stride, int32_t *sums, x5_few_win_fn win_regs)
{
    const int VBMI = win_regs != NULL;
    x5_state *st = (x5_state *)ex->state;
    (void)tile; /* the windows are summed in registers, never stored */
    const ps_conv_op *op = ex->op;
    const int32_t cc = ex->oc1 - ex->oc0, g = st->group, half = g / 2;
    const int32_t c = op->in_c, row_len = op->kernel_w * c, step = op->stride_w * c;
    const int32_t ny = y1 - y0;
    const __m512i perm = _mm512_loadu_si512(st->few_perm);
    const x5_frq r = x5_frq_load(op->quant, st);
    x5_few_pixels pix;
    x5_rowctx rcs[X5_FEW_POOL_ROWS];
    x5_few_win fws[X5_FEW_POOL_ROWS];
    int windows = VBMI;
    pix.count = 0;
    for (int32_t j = 0; j < ny; j++) {
        x5_rowctx_init(&rcs[j], op, st, n, y0 + j);
        if (VBMI) {
            windows &= x5_few_win_init(&fws[j], &rcs[j], half);
        }
    }
    for (int32_t px = 0; px < pooled_w;) {
        /* this window and the next: columns, input column of the first tap, bytes per row */
        int32_t x0[2], x1[2], ix[2], span[2], ok[2];
        for (int w = 0; w < 2; w++) {
            ok[w] = 0;
            if (px + w < pooled_w) {
                ps_pool_window(px + w, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w,
                               &x0[w], &x1[w]);
                ix[w] = x0[w] * op->stride_w - op->pad_left;
                span[w] = (x1[w] - x0[w] - 1) * step + row_len;
                ok[w] = VBMI && windows && x1[w] - x0[w] <= g && span[w] <= 64;
            }
        }
        if (ok[0] && ok[1]) { /* 2 * ny <= X5_FEW_VECTORS vectors */
            __m512i regs[2 * X5_FEW_VECTORS], yv[X5_FEW_VECTORS];
            for (int w = 0; w < 2; w++) {
                for (int32_t b = 0; b < ny; b++) {
                    win_regs(&fws[b], ix[w], span[w], op, half, perm, 2, regs + 2 * (w * ny + b));
                }
            }
            x5_few_block_n(op, st, &pix, regs, &r, yv, (int)(2 * ny));
            for (int w = 0; w < 2; w++, out += out_stride) {
                const __mmask16 m = x5_lanes((x1[w] - x0[w]) * cc);
                __m512i total = _mm512_setzero_si512();
                for (int32_t b = 0; b < ny; b++) {
                    total = _mm512_mask_add_epi32(total, m, total, yv[w * ny + b]);
                }
                x5_few_finish(st, total, cc, ny * (x1[w] - x0[w]), pool, sums, out);
            }
            px += 2;
            continue;
        }
        const int32_t wx = x1[0] - x0[0], pixels = ny * wx;
        __m512i total = _mm512_setzero_si512();
        if (ok[0]) {
            __m512i regs[2 * X5_FEW_VECTORS], yv[X5_FEW_VECTORS];
            for (int32_t b = 0; b < ny; b++) {
                win_regs(&fws[b], ix[0], span[0], op, half, perm, 2, regs + 2 * b);
            }
            x5_few_block_n(op, st, &pix, regs, &r, yv, (int)ny);
            for (int32_t b = 0; b < ny; b++) {
                total = _mm512_mask_add_epi32(total, x5_lanes(wx * cc), total, yv[b]);
            }
        } else {
            int32_t y = 0, x = x0[0]; /* the next pixel: window row y, column x */
            for (int32_t i = 0; i < pixels; i += X5_FEW_VECTORS * g) {
                const int32_t left = pixels - i < X5_FEW_VECTORS * g ? pixels - i : X5_FEW_VECTORS * g;
                const int NB = (int)((left + g - 1) / g);
                __m512i yv[X5_FEW_VECTORS];
                pix.count = left;
                for (int32_t j = 0; j < left; j++) {
                    pix.rc[j] = &rcs[y];
                    pix.x[j] = x;
                    if (++x == x1[0]) {
                        x = x0[0];
                        y++;
                    }
                }
                x5_few_block_n(op, st, &pix, NULL, &r, yv, NB);
                for (int b = 0; b < NB; b++) {
                    const int32_t in_vec = left - b * g < g ? left - b * g : g;
                    total = _mm512_mask_add_epi32(total, x5_lanes(in_vec * cc), total, yv[b]);
                }
            }
        }
        x5_few_finish(st, total, cc, pixels, pool, sums, out);
        px++;
        out += out_stride;
    }
}

/* The window bodies in frames of their own, entered only for windows of at most
 * X5_FEW_POOL_ROWS rows: taller ones take x5_gemm_pooled_row (the replicated packing
 * serves the plain GEMM too), and the two frames are never on the stack together. */
X5 static __attribute__((noinline)) void x5_few_pooled_plain(
    const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1, const ps_pool_params *pool,
    int32_t pooled_w, int8_t *tile, int32_t *sums, int8_t *out, int32_t out_stride)
{
    x5_few_pooled(ex, n, y0, y1, pool, pooled_w, tile, out, out_stride, sums, NULL);
}

X5V static __attribute__((noinline)) void x5_few_pooled_vbmi(
    const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1, const ps_pool_params *pool,
    int32_t pooled_w, int8_t *tile, int32_t *sums, int8_t *out, int32_t out_stride)
{
    x5_few_pooled(ex, n, y0, y1, pool, pooled_w, tile, out, out_stride, sums, x5_few_win_regs);
}

X5 static void x5_few_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                 const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                 int32_t *sums, int8_t *out, int32_t out_stride)
{
    if (y1 - y0 > X5_FEW_POOL_ROWS) {
        x5_gemm_pooled_row(ex, n, y0, y1, pool, pooled_w, tile, sums, out, out_stride);
    } else {
        x5_few_pooled_plain(ex, n, y0, y1, pool, pooled_w, tile, sums, out, out_stride);
    }
}

X5 static void x5_few_pooled_row_vbmi(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                      const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                      int32_t *sums, int8_t *out, int32_t out_stride)
{
    if (y1 - y0 > X5_FEW_POOL_ROWS) {
        x5_gemm_pooled_row(ex, n, y0, y1, pool, pooled_w, tile, sums, out, out_stride);
    } else {
        x5_few_pooled_vbmi(ex, n, y0, y1, pool, pooled_w, tile, sums, out, out_stride);
    }
}

/* The fused window with VBMI where every window fits a vector row (pool_w <= g and the
 * window's bytes of a kernel row, (pool_w - 1) * stride_w * C + KW * C, at most 64): per
 * window, each conv row's kernel rows are loaded once (64 bytes from the window's first
 * input column; columns and rows outside the input: input_zp) and every quad's vector of
 * the window row's pixels is one VPERMB of a kernel row's bytes (st->few_qtr), with no
 * receptive field built first. NB vectors: (window, conv row) pairs, b = w * ny + j. */
X5VI void x5_fd_block(const x5_state *st, const __m512i (*win)[X5_FEW_ROWS], __m512i pofs,
                      const x5_frq *r, __m512i *y, const int NB, const int MIX)
{
    const int32_t kq = st->kpad / 4;
    const int8_t *w = st->wpack;
    __m512i acc[X5_FEW_VECTORS];
    for (int b = 0; b < NB; b++) {
        acc[b] = _mm512_loadu_si512(st->cst);
    }
    for (int32_t i = 0; i < kq; i++, w += 64) {
        const __m512i idx = _mm512_add_epi8(pofs, _mm512_set1_epi32(st->few_qtr[i]));
        const __m512i wv = _mm512_load_si512(w);
        const int32_t ky = st->few_qky[i][0];
        for (int b = 0; b < NB; b++) {
            __m512i v = _mm512_permutexvar_epi8(idx, win[b][ky]);
            if (MIX && (st->few_qmix >> i & 1)) { /* a quad across kernel rows (KW * C not a multiple of 4) */
                for (int e = 1; e < 4; e++) {
                    const int32_t kb = st->few_qky[i][e];
                    if (kb != ky) {
                        v = _mm512_mask_permutexvar_epi8(v, UINT64_C(0x1111111111111111) << e, idx,
                                                         win[b][kb]);
                    }
                }
            }
            acc[b] = _mm512_dpbusd_epi32(acc[b], v, wv);
        }
    }
    if (r->mode == X5R_USUAL) { /* compiled apart */
        for (int b = 0; b < NB; b++) {
            y[b] = x5_few_requant(acc[b], r, X5R_USUAL);
        }
    } else {
        for (int b = 0; b < NB; b++) {
            y[b] = x5_few_requant(acc[b], r, r->mode);
        }
    }
}

X5V static __attribute__((noinline)) void x5_few_pooled_direct(
    const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1, const ps_pool_params *pool,
    int32_t pooled_w, int32_t *sums, int8_t *out, int32_t out_stride)
{
    x5_state *st = (x5_state *)ex->state;
    const ps_conv_op *op = ex->op;
    const int32_t cc = ex->oc1 - ex->oc0, c = op->in_c, ny = y1 - y0, kh = op->kernel_h;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c;
    const x5_frq r = x5_frq_load(op->quant, st);
    const __m512i pofs = _mm512_loadu_si512(st->few_pofs);
    const __m512i raw = _mm512_set1_epi8((char)op->quant->input_zp);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i fill = _mm512_xor_si512(raw, flip); /* padding taps as u8 */
    const int8_t *rows[X5_FEW_POOL_ROWS][X5_FEW_ROWS]; /* NULL: outside the input */
    __m512i win[2 * X5_FEW_POOL_ROWS][X5_FEW_ROWS];
    const int mix = st->few_qmix != 0; /* any quad across kernel rows */
    for (int32_t j = 0; j < ny; j++) {
        const int32_t iy0 = (y0 + j) * op->stride_h - op->pad_top;
        for (int32_t ky = 0; ky < kh; ky++) {
            const int32_t iy = iy0 + ky * op->dilation_h;
            rows[j][ky] = iy >= 0 && iy < op->in_h ? image + (size_t)iy * op->in_w * c : NULL;
        }
    }
    for (int32_t px = 0; px < pooled_w;) {
        const int nw = pooled_w - px >= 2 ? 2 : 1;
        int32_t wx[2];
        for (int w = 0; w < nw; w++) {
            int32_t x0, x1;
            ps_pool_window(px + w, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w, &x0,
                           &x1);
            wx[w] = x1 - x0;
            const int32_t ix = x0 * op->stride_w - op->pad_left;
            const int32_t lo = ix < 0 ? -ix * c : 0;
            const int32_t hi = (op->in_w - ix) * c < 64 ? (op->in_w - ix) * c : 64;
            /* only the masked bytes are read (and can fault): the address may lie before the row */
            const __mmask64 inside = hi > lo ? x5_bytes(lo, hi - lo) : 0;
            for (int32_t j = 0; j < ny; j++) {
                for (int32_t ky = 0; ky < kh; ky++) {
                    win[w * ny + j][ky] =
                        rows[j][ky] == NULL
                            ? fill
                            : _mm512_xor_si512(
                                  _mm512_mask_loadu_epi8(raw, inside,
                                                         (const void *)((uintptr_t)rows[j][ky] +
                                                                        (uintptr_t)((ptrdiff_t)ix * c))),
                                  flip);
                }
            }
        }
        __m512i yv[X5_FEW_VECTORS];
        const __m512i(*wins)[X5_FEW_ROWS] = (const __m512i(*)[X5_FEW_ROWS])win;
        switch (nw * ny + 8 * mix) {
        case 1:
            x5_fd_block(st, wins, pofs, &r, yv, 1, 0);
            break;
        case 2:
            x5_fd_block(st, wins, pofs, &r, yv, 2, 0);
            break;
        case 4:
            x5_fd_block(st, wins, pofs, &r, yv, 4, 0);
            break;
        case 9:
            x5_fd_block(st, wins, pofs, &r, yv, 1, 1);
            break;
        case 10:
            x5_fd_block(st, wins, pofs, &r, yv, 2, 1);
            break;
        default:
            x5_fd_block(st, wins, pofs, &r, yv, 4, 1);
            break;
        }
        for (int w = 0; w < nw; w++, out += out_stride) {
            const __mmask16 m = x5_lanes(wx[w] * cc);
            __m512i total = _mm512_setzero_si512();
            for (int32_t j = 0; j < ny; j++) {
                total = _mm512_mask_add_epi32(total, m, total, yv[w * ny + j]);
            }
            x5_few_finish(st, total, cc, ny * wx[w], pool, sums, out);
        }
        px += nw;
    }
}

X5 static void x5_few_pooled_row_direct(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                        const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                        int32_t *sums, int8_t *out, int32_t out_stride)
{
    if (y1 - y0 > X5_FEW_POOL_ROWS) {
        x5_gemm_pooled_row(ex, n, y0, y1, pool, pooled_w, tile, sums, out, out_stride);
    } else {
        x5_few_pooled_direct(ex, n, y0, y1, pool, pooled_w, sums, out, out_stride);
    }
}

/* ---- depthwise (depth multiplier 1) ------------------------------------------------- */

/* Weights as int32 lanes holding the int16 weight in the low half and 0 in the high half:
 * VPDPWSSD of such a lane with any int32 whose low half is an int16 v adds exactly v * w.
 * Interior pixels (every tap inside the input) use raw x with the folded bias
 * bias - input_zp * sum(w); border pixels use (x - zp) and skip the padding taps.
 *
 * Few channels (C = 1, 2, 4, 8) with stride_w 1: the 16 lanes hold 16 / C consecutive
 * output pixels, whose inputs at one tap are 16 contiguous bytes. */

X5I int32_t x5_w16(int8_t w)
{
    return (int32_t)(uint16_t)(int16_t)w;
}

X5 static int32_t x5_dw_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    x5_state *st = (x5_state *)ex->state;
    const ps_quant_params *q = op->quant;
    const int32_t taps = op->kernel_h * op->kernel_w;
    const int32_t cc = op->out_c - oc0 < st->cc_max ? op->out_c - oc0 : st->cc_max;
    const int32_t nvec = (cc + 15) / 16, width = nvec * 16;
    const int packed = st->group > 1;
    st->nvec = nvec;
    for (int32_t j = 0; j < width; j++) {
        const int32_t c = packed ? j % cc : j; /* packed: lane j is channel j % C */
        const int inside = packed || j < cc;
        int32_t sum = 0;
        for (int32_t t = 0; t < taps; t++) {
            int8_t w = inside ? op->filter[(size_t)t * op->out_c + oc0 + c] : 0;
            st->w32[(size_t)t * width + j] = x5_w16(w);
            sum += w;
        }
        uint32_t bias = inside && op->bias != NULL ? (uint32_t)op->bias[oc0 + c] : 0u;
        st->cst[j] = (int32_t)bias;
        st->cst_fold[j] = (int32_t)(bias - (uint32_t)q->input_zp * (uint32_t)sum); /* mod 2^32 */
        if (packed) {
            st->pk_mult[j] = q->multiplier[oc0 + c];
            st->pk_shift[j] = q->shift[oc0 + c];
        }
    }
    for (int32_t v = 0; v < nvec; v++) { /* the requantization vectors, once per call */
        x5_rq r = x5_rq_load(q, oc0 + v * 16, x5_lanes(cc - v * 16));
        _mm512_store_si512(st->rq_mult + v * 16, r.mult);
        _mm512_store_si512(st->rq_a + v * 16, r.a);
        _mm512_store_si512(st->rq_b + v * 16, r.b);
        if (op->depth_multiplier > 1) { /* output channel oc reads input channel oc / M */
            const int32_t mult = op->depth_multiplier;
            const int32_t lanes = cc - v * 16 < 16 ? cc - v * 16 : 16;
            const int32_t first = (oc0 + v * 16) / mult, last = (oc0 + v * 16 + lanes - 1) / mult;
            st->in_base[v] = first;
            st->in_mask[v] = x5_lanes(last - first + 1);
            for (int32_t l = 0; l < 16; l++) {
                st->in_idx[v * 16 + l] = l < lanes ? (oc0 + v * 16 + l) / mult - first : 0;
            }
        }
    }
    ex->oc0 = oc0;
    ex->oc1 = oc0 + cc;
    return ex->oc1;
}

/* One pixel, channel vectors vb .. vb + NV - 1 of the chunk. */
X5I void x5_dw_pixel(const ps_conv_op *op, const x5_state *st, int32_t oc0, int32_t cc,
                     const int8_t *image, int32_t iy0, int32_t ix0, int8_t *dst, int32_t vb,
                     int32_t *sums, const int NV)
{
    const ps_quant_params *q = op->quant;
    const int32_t width = st->nvec * 16;
    const int interior = iy0 >= 0 && iy0 + (op->kernel_h - 1) * op->dilation_h < op->in_h &&
                         ix0 >= 0 && ix0 + (op->kernel_w - 1) * op->dilation_w < op->in_w;
    const int32_t *cst = interior ? st->cst_fold : st->cst;
    __m512i acc[4];
    __mmask16 m[4];
    for (int v = 0; v < NV; v++) {
        acc[v] = _mm512_loadu_si512(cst + (vb + v) * 16);
        m[v] = x5_lanes(cc - (vb + v) * 16);
    }
    /* where vector v's input channels start in an input pixel, and which it loads */
    const int expand = op->depth_multiplier > 1;
    int32_t xoff[4];
    __mmask16 xm[4];
    __m512i idx[4];
    for (int v = 0; v < NV; v++) {
        xoff[v] = expand ? st->in_base[vb + v] : oc0 + (vb + v) * 16;
        xm[v] = expand ? st->in_mask[vb + v] : m[v];
        idx[v] = expand ? _mm512_loadu_si512(st->in_idx + (vb + v) * 16) : _mm512_setzero_si512();
    }
    if (interior) { /* every tap inside: raw x, the zero point is in cst_fold */
        const int8_t *x = image + ((size_t)iy0 * op->in_w + ix0) * op->in_c;
        const int32_t *w = st->w32 + vb * 16;
        const size_t dy = (size_t)op->dilation_h * op->in_w * op->in_c;
        const size_t dx = (size_t)op->dilation_w * op->in_c;
        for (int32_t ky = 0; ky < op->kernel_h; ky++, x += dy) {
            const int8_t *xk = x;
            for (int32_t kx = 0; kx < op->kernel_w; kx++, xk += dx, w += width) {
                for (int v = 0; v < NV; v++) {
                    __m512i xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(xm[v], xk + xoff[v]));
                    if (expand) {
                        xv = _mm512_permutexvar_epi32(idx[v], xv);
                    }
                    acc[v] = _mm512_dpwssd_epi32(acc[v], xv, _mm512_loadu_si512(w + v * 16));
                }
            }
        }
    }
    const __m512i zp = _mm512_set1_epi32(q->input_zp);
    for (int32_t ky = 0; !interior && ky < op->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * op->dilation_h;
        if (iy < 0 || iy >= op->in_h) {
            continue; /* padding taps contribute nothing */
        }
        for (int32_t kx = 0; kx < op->kernel_w; kx++) {
            const int32_t ix = ix0 + kx * op->dilation_w;
            if (ix < 0 || ix >= op->in_w) {
                continue;
            }
            const int8_t *x = image + ((size_t)iy * op->in_w + ix) * op->in_c;
            const int32_t *w = st->w32 + (size_t)(ky * op->kernel_w + kx) * width + vb * 16;
            for (int v = 0; v < NV; v++) {
                __m512i xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(xm[v], x + xoff[v]));
                if (expand) {
                    xv = _mm512_permutexvar_epi32(idx[v], xv);
                }
                acc[v] = _mm512_dpwssd_epi32(acc[v], _mm512_sub_epi32(xv, zp),
                                             _mm512_loadu_si512(w + v * 16));
            }
        }
    }
    for (int v = 0; v < NV; v++) {
        x5_rq r;
        r.mult = _mm512_load_si512(st->rq_mult + (vb + v) * 16);
        r.a = _mm512_load_si512(st->rq_a + (vb + v) * 16);
        r.b = _mm512_load_si512(st->rq_b + (vb + v) * 16);
        r.zp = _mm512_set1_epi32(q->output_zp);
        r.lo = _mm512_set1_epi32(q->act_min);
        r.hi = _mm512_set1_epi32(q->act_max);
        r.single = q->requant == PS_REQUANT_SINGLE;
        __m512i y = x5_requant(acc[v], &r);
        _mm512_mask_cvtepi32_storeu_epi8(dst + (vb + v) * 16, m[v], y);
        if (sums != NULL) {
            int32_t *s = sums + (vb + v) * 16;
            _mm512_mask_storeu_epi32(s, m[v], _mm512_add_epi32(_mm512_maskz_loadu_epi32(m[v], s), y));
        }
    }
}

/* 16 / C interior pixels starting at ix0 (stride_w 1), all C channels, into 16 bytes. */
X5I void x5_dw_group(const ps_conv_op *op, const x5_state *st, const int8_t *image, int32_t iy0,
                     int32_t ix0, int8_t *dst, const x5_rq *r, int32_t *sums)
{
    __m512i acc = _mm512_loadu_si512(st->cst_fold);
    const int8_t *w_base = (const int8_t *)st->w32;
    for (int32_t ky = 0; ky < op->kernel_h; ky++) {
        const int8_t *row = image + ((size_t)(iy0 + ky * op->dilation_h) * op->in_w + ix0) * op->in_c;
        for (int32_t kx = 0; kx < op->kernel_w; kx++) {
            __m512i xv = _mm512_cvtepi8_epi32(
                _mm_loadu_si128((const __m128i *)(const void *)(row + (size_t)kx * op->dilation_w * op->in_c)));
            acc = _mm512_dpwssd_epi32(acc, xv,
                                      _mm512_loadu_si512(w_base + (size_t)(ky * op->kernel_w + kx) * 64));
        }
    }
    __m512i y = x5_requant(acc, r);
    _mm_storeu_si128((__m128i *)(void *)dst, _mm512_cvtepi32_epi8(y));
    if (sums != NULL) { /* fold the 16 / C pixels' lanes onto the C channels */
        const int32_t c = op->in_c;
        __m256i h8 = _mm256_add_epi32(_mm512_castsi512_si256(y), _mm512_extracti64x4_epi64(y, 1));
        __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(h8), _mm256_extracti128_si256(h8, 1));
        __m128i h2 = _mm_add_epi32(h4, _mm_srli_si128(h4, 8));
        __m128i h1 = _mm_add_epi32(h2, _mm_srli_si128(h2, 4));
        __m512i part = c == 8 ? _mm512_castsi256_si512(h8)
                     : c == 4 ? _mm512_castsi128_si512(h4)
                     : c == 2 ? _mm512_castsi128_si512(h2) : _mm512_castsi128_si512(h1);
        __mmask16 m = x5_lanes(c);
        _mm512_mask_storeu_epi32(sums, m, _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, sums), part));
    }
}

X5 static void x5_dw_span(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                          int32_t ox1, int8_t *dst, int32_t dst_stride, int32_t *sums)
{
    const ps_conv_op *op = ex->op;
    const x5_state *st = (const x5_state *)ex->state;
    const int32_t cc = ex->oc1 - ex->oc0;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * op->in_c;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    const int32_t g = st->group;
    const int rows_inside = iy0 >= 0 && iy0 + (op->kernel_h - 1) * op->dilation_h < op->in_h;
    x5_rq r;
    if (g > 1) {
        r = x5_rq_load_from(op->quant, st->pk_mult, st->pk_shift, (__mmask16)0xFFFF);
    }
    for (int32_t ox = ox0; ox < ox1;) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        if (g > 1 && rows_inside && dst_stride == cc && ox + g <= ox1 && ix0 >= 0 &&
            ix0 + g - 1 + (op->kernel_w - 1) * op->dilation_w < op->in_w) {
            x5_dw_group(op, st, image, iy0, ix0, dst, &r, sums);
            ox += g;
            dst += (size_t)g * dst_stride;
            continue;
        }
        for (int32_t vb = 0; vb < st->nvec; vb += 4) {
            switch (st->nvec - vb) {
            case 1:
                x5_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 1);
                break;
            case 2:
                x5_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 2);
                break;
            case 3:
                x5_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 3);
                break;
            default:
                x5_dw_pixel(op, st, ex->oc0, cc, image, iy0, ix0, dst, vb, sums, 4);
                break;
            }
        }
        ox++;
        dst += dst_stride;
    }
}

X5 static void x5_dw_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                         int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    x5_dw_span(ex, n, oy, ox0, ox1, dst, dst_stride, NULL);
}

X5 static void x5_dw_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                int32_t *sums, int8_t *out, int32_t out_stride)
{
    const int32_t cc = ex->oc1 - ex->oc0;
    for (int32_t px = 0; px < pooled_w; px++, out += out_stride) {
        int32_t x0, x1;
        ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, ex->op->out_w, &x0, &x1);
        x5_zero_sums(sums, cc);
        for (int32_t y = y0; y < y1; y++) {
            x5_dw_span(ex, n, y, x0, x1, tile, cc, sums);
        }
        x5_average(sums, (y1 - y0) * (x1 - x0), cc, pool, out);
    }
}

/* ---- depthwise 3x3, multiplier 1, no dilation: the column-quad path ------------------ */

/* Per output row, the three input rows the kernel reads are interleaved once into Q:
 * element e of the flat row (column j = e / C, channel c = e % C) is the int32 of the
 * bytes (x[iy0][j][c], x[iy0 + 1][j][c], x[iy0 + 2][j][c], any) + 128 as u8, padding
 * (and rows outside the input) as input_zp + 128. Kernel column kx of a pixel is then
 * one VPDPBUSD of its Q element with the weights (w[0][kx], w[1][kx], w[2][kx], 0), with
 * the zero point folded into the bias as in the GEMM (bias - (128 + zp) * sum w): three
 * instructions per 16 outputs, no border logic, and each input byte widened once per
 * output row. A vector holds 16 consecutive bytes of the flat output row: 16 channels
 * of one pixel (C % 16 == 0, any stride) or 16 / C pixels (C = 1, 2, 4, 8, stride 1,
 * where Q's flat offset of output element f at column kx is just f + kx * C). Four
 * vectors are requantized together and packed into one 64-byte store. */

typedef struct {
    __m512i cst, w[3];
    x5_rqb rq;
} x5q_blk;

#define X5Q_BLOCKS (X5_MAX_CHUNK / 16)
#define X5Q_QBYTES (X5_PACK_BYTES - X5Q_BLOCKS * (int32_t)sizeof(x5q_blk))

/* Q elements (int32) one row of out_w pixels needs, rounded up to the 64 the builder writes */
static int64_t x5q_elements(int32_t pixels, int32_t c, int32_t stride_w)
{
    const int64_t n = (int64_t)pixels * c, r = (n + 63) / 64 * 64;
    const int64_t q = ((r - 1) / c * stride_w + 3) * c; /* past the last vector's columns */
    return (q + 63) / 64 * 64;
}

/* Whether the column-quad path runs op (unfused; its Q row must fit the stack buffer). */
static int x5q_applies(const ps_conv_op *op)
{
    const int32_t c = op->out_c;
    return op->depth_multiplier == 1 && op->kernel_h == 3 && op->kernel_w == 3 &&
           op->dilation_h == 1 && op->dilation_w == 1 && c <= X5_MAX_CHUNK &&
           (c % 16 == 0 || (16 % c == 0 && op->stride_w == 1)) &&
           x5q_elements(op->out_w, c, op->stride_w) * 4 <= X5Q_QBYTES;
}

X5 static int32_t x5q_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    const ps_quant_params *q = op->quant;
    x5q_blk *blk = (x5q_blk *)(void *)((x5_state *)ex->state)->wpack;
    const int32_t c = op->out_c, nvec = c < 16 ? 1 : c / 16;
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i zero = _mm512_setzero_si512();
    const __m512i fold = _mm512_set1_epi32(128 + q->input_zp);
    x5_state *st = (x5_state *)ex->state;
    st->q_mode = x5_rqb_mode(q, q->shift, c);
    for (int32_t v = 0; v < nvec; v++) {
        /* lane j is channel base + idx[j]: 16v + j, or j % c below 16 channels */
        const int32_t base = c < 16 ? 0 : v * 16;
        const __mmask16 m = x5_lanes(c < 16 ? c : 16);
        const __m512i idx = c < 16 ? _mm512_setr_epi32(0, 1 % c, 2 % c, 3 % c, 4 % c, 5 % c, 6 % c, 7 % c,
                                                        8 % c, 9 % c, 10 % c, 11 % c, 12 % c, 13 % c, 14 % c,
                                                        15 % c)
                                   : lanes;
        __m512i sum = zero;
        for (int32_t kx = 0; kx < 3; kx++) {
            __m512i d = zero;
            for (int32_t ky = 0; ky < 3; ky++) {
                __m512i w = _mm512_cvtepi8_epi32(
                    _mm_maskz_loadu_epi8(m, op->filter + (size_t)(ky * 3 + kx) * c + base));
                w = _mm512_permutexvar_epi32(idx, w);
                sum = _mm512_add_epi32(sum, w);
                d = _mm512_or_si512(d, _mm512_slli_epi32(_mm512_and_si512(w, _mm512_set1_epi32(0xFF)), 8 * ky));
            }
            blk[v].w[kx] = d;
        }
        const __m512i bias = op->bias != NULL
            ? _mm512_permutexvar_epi32(idx, _mm512_maskz_loadu_epi32(m, op->bias + base)) : zero;
        /* bias - (128 + zp) * sum(w), modulo 2^32 */
        blk[v].cst = _mm512_sub_epi32(bias, _mm512_mullo_epi32(fold, sum));
        const __m512i mult = _mm512_permutexvar_epi32(idx, _mm512_maskz_loadu_epi32(m, q->multiplier + base));
        const __m512i shift = _mm512_permutexvar_epi32(idx, _mm512_maskz_loadu_epi32(m, q->shift + base));
        x5_rqb_init(&blk[v].rq, q, mult, shift, st->q_mode);
    }
    ex->oc0 = oc0;
    ex->oc1 = c;
    return c;
}

/* Q[0 .. count) (count a multiple of 64) from the input bytes at flat offset o0 of the
 * rows r[0..3) (NULL: outside the input), len bytes each; elsewhere input_zp. */
X5I void x5q_build(int32_t *qbuf, int32_t count, const int8_t *const r[3], ptrdiff_t o0,
                   ptrdiff_t len, int8_t zp)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i pad = _mm512_set1_epi8(zp);
    /* lane L's dword q gets dword 4q + L: the in-lane unpacks below then leave elements
     * in order (unpack output k holds elements 16k .. 16k + 15) */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    for (int32_t e = 0; e < count; e += 64) {
        const ptrdiff_t o = o0 + e;
        __m512i x[3];
        if (o >= 0 && o + 64 <= len) {
            for (int k = 0; k < 3; k++) {
                x[k] = r[k] != NULL ? _mm512_loadu_si512(r[k] + o) : pad;
            }
        } else { /* the row's ends: bytes outside [0, len) are padding */
            const ptrdiff_t lo = o < 0 ? -o : 0, hi = len - o < 64 ? len - o : 64;
            const __mmask64 m = hi > lo ? x5_bytes((int32_t)lo, (int32_t)(hi - lo)) : 0;
            for (int k = 0; k < 3; k++) {
                x[k] = r[k] != NULL && m != 0
                           ? _mm512_mask_loadu_epi8(pad, m, (const void *)((uintptr_t)r[k] + (uintptr_t)o))
                           : pad;
            }
        }
        for (int k = 0; k < 3; k++) {
            x[k] = _mm512_permutexvar_epi32(order, _mm512_xor_si512(x[k], flip));
        }
        const __m512i ab_lo = _mm512_unpacklo_epi8(x[0], x[1]), ab_hi = _mm512_unpackhi_epi8(x[0], x[1]);
        const __m512i cc_lo = _mm512_unpacklo_epi8(x[2], x[2]), cc_hi = _mm512_unpackhi_epi8(x[2], x[2]);
        _mm512_storeu_si512(qbuf + e, _mm512_unpacklo_epi16(ab_lo, cc_lo));
        _mm512_storeu_si512(qbuf + e + 16, _mm512_unpackhi_epi16(ab_lo, cc_lo));
        _mm512_storeu_si512(qbuf + e + 32, _mm512_unpacklo_epi16(ab_hi, cc_hi));
        _mm512_storeu_si512(qbuf + e + 48, _mm512_unpackhi_epi16(ab_hi, cc_hi));
    }
}

/* The flat output row's total bytes from Q, 64 at a time. */
X5I void x5q_compute(const ps_conv_op *op, const x5q_blk *blk, const int32_t *qbuf, int32_t total,
                     int8_t *dst, const int mode)
{
    const ps_quant_params *q = op->quant;
    const int32_t c = op->out_c;
    const __m512i zp = _mm512_set1_epi32(q->output_zp);
    const __m512i lo = _mm512_set1_epi8((char)q->act_min), hi = _mm512_set1_epi8((char)q->act_max);
    const int32_t step = op->stride_w * c - c; /* Q elements skipped per pixel past stride 1 */
    const x5q_blk *const end = blk + (c < 16 ? 1 : c / 16);
    const x5q_blk *p = blk;  /* the next vector's block: its channels' 16 lanes */
    const int32_t *qp = qbuf; /* and its Q elements at kx = 0 */
    for (int32_t f = 0; f < total; f += 64) {
        __m512i y[4];
        for (int i = 0; i < 4; i++) {
            __m512i acc = _mm512_dpbusd_epi32(p->cst, _mm512_loadu_si512(qp), p->w[0]);
            acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(qp + c), p->w[1]);
            acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(qp + 2 * c), p->w[2]);
            y[i] = x5_rqb_apply(acc, &p->rq, mode, zp);
            qp += 16;
            if (++p == end) { /* the pixel's last channels (c <= 16: every vector) */
                p = blk;
                qp += step;
            }
        }
        const __m512i b = x5_pack4_clamp(y, lo, hi);
        if (total - f >= 64) {
            _mm512_storeu_si512(dst + f, b);
        } else {
            _mm512_mask_storeu_epi8(dst + f, x5_bytes(0, total - f), b);
        }
    }
}

X5 static void x5q_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                       int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const ps_quant_params *q = op->quant;
    const x5q_blk *blk = (const x5q_blk *)(const void *)((const x5_state *)ex->state)->wpack;
    int32_t *qbuf = (int32_t *)(void *)(((const x5_state *)ex->state)->wpack + X5Q_BLOCKS * sizeof(x5q_blk));
    const int32_t c = op->out_c, sw = op->stride_w;
    const int32_t total = (ox1 - ox0) * c; /* dst_stride == c: the row is contiguous */
    const ptrdiff_t len = (ptrdiff_t)op->in_w * c;
    const int8_t *image = op->input + (size_t)n * op->in_h * len;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    const int8_t *rows[3];
    (void)dst_stride;
    for (int k = 0; k < 3; k++) {
        const int32_t iy = iy0 + k;
        rows[k] = iy >= 0 && iy < op->in_h ? image + (size_t)iy * len : NULL;
    }
    /* every input byte this row reads, before any output byte is written (in place) */
    x5q_build(qbuf, (int32_t)x5q_elements(ox1 - ox0, c, sw), rows,
              ((ptrdiff_t)ox0 * sw - op->pad_left) * c, len, (int8_t)q->input_zp);

    /* the usual modes compiled apart; the rest test the mode's bits per vector */
    const int mode = ((const x5_state *)ex->state)->q_mode;
    if (mode == X5R_USUAL) {
        x5q_compute(op, blk, qbuf, total, dst, X5R_USUAL);
    } else if (mode == (X5R_NEG | X5R_LEFT | X5R_ZP)) {
        x5q_compute(op, blk, qbuf, total, dst, X5R_NEG | X5R_LEFT | X5R_ZP);
    } else if (mode == (X5R_HIGH | X5R_ZP)) {
        x5q_compute(op, blk, qbuf, total, dst, X5R_HIGH | X5R_ZP);
    } else {
        x5q_compute(op, blk, qbuf, total, dst, mode);
    }
}

/* ---- entry -------------------------------------------------------------------------- */

/* Whether the GEMM pads each kernel row of the receptive field to whole quads (st.frow):
 * then every quad holds the taps of one kernel row, so each pixel's quads can be read
 * from its kernel rows' spans (x5_span) instead of building its field (three masked
 * loads per pixel for a 3x3 kernel on 3 channels). For padded fields that fit a register,
 * where the padding adds at most 12 dot products per pixel (extra quads x vectors of 16
 * channels): measured faster on every such layer tried (3x3 on 3 channels, 32 outputs:
 * 9 quads for 7, 14% less time; 9x1 on 1 channel, 32 outputs: 9 for 3, 13% less),
 * and slower past it (3x3 on 3 channels, 128 outputs: 16 more, ~5% more time). */
static int x5_pad_rows(const ps_conv_op *op)
{
    const int32_t row = op->kernel_w * op->in_c, quads = (row + 3) / 4;
    const int32_t dense = (op->kernel_h * row + 3) / 4, padded = op->kernel_h * quads;
    const int32_t nvec = op->out_c < X5_MAX_CHUNK ? (op->out_c + 15) / 16 : X5_MAX_CHUNK / 16;
    if (op->kind != PS_KIND_CONV2D || op->dilation_w != 1 || op->kernel_h == 1 || row % 4 == 0 ||
        padded * 4 > 64 || (padded - dense) * nvec > 12) {
        return 0;
    }
    __builtin_cpu_init(); /* the weights' rows are spread by VPEXPANDB (x5_spread_rows) */
    return __builtin_cpu_supports("avx512vbmi2");
}

X5 void ps_conv_run_avx512(const ps_conv_op *op, const ps_conv_job *job)
{
    int8_t wpack[X5_PACK_BYTES] __attribute__((aligned(64)));
    int32_t cst[X5_MAX_CHUNK] __attribute__((aligned(64)));
    union { /* per chunk: the depthwise paths' channel arrays, or the GEMM's requantization */
        int32_t dw[5][X5_MAX_CHUNK];
        x5_rqb gemm[X5_MAX_CHUNK / 16];
    } chan __attribute__((aligned(64)));
    x5_state st;
    memset(&st, 0, offsetof(x5_state, avgs));
    st.cst = cst;
    if (op->kind == PS_KIND_DEPTHWISE) {
        const int32_t taps = op->kernel_h * op->kernel_w;
        int32_t cc_max = (int32_t)(X5_PACK_BYTES / (4 * 16 * (size_t)taps)) * 16;
        if (cc_max < 16) {
            ps_conv_run_portable(op, job);
            return;
        }
        const int32_t c = op->out_c;
        st.rq_mult = chan.dw[0];
        st.rq_a = chan.dw[1];
        st.rq_b = chan.dw[2];
        st.cc_max = cc_max < X5_MAX_CHUNK ? cc_max : X5_MAX_CHUNK;
        st.w32 = (int32_t *)(void *)wpack;
        st.cst_fold = chan.dw[3];
        st.in_idx = chan.dw[4];
        st.group = (op->depth_multiplier == 1 && op->stride_w == 1 &&
                    (c == 1 || c == 2 || c == 4 || c == 8)) ? 16 / c : 1;
        if (job->pool == NULL && x5q_applies(op)) {
            st.wpack = wpack;
            ps_conv_exec ex = {op, x5q_prepare, x5q_row, NULL, NULL, 0, 0, &st, NULL};
            ps_conv_drive(&ex, job);
            return;
        }
        ps_conv_exec ex = {op, x5_dw_prepare, x5_dw_row, x5_dw_pooled_row, x5_ring_window, 0, 0, &st,
                           x5_ring_row};
        ps_conv_drive(&ex, job);
        return;
    }
    uint8_t patch[X5_PATCH_BYTES] __attribute__((aligned(64)));
    st.frow = op->kernel_w * op->in_c;
    st.k = op->kernel_h * st.frow;
    st.kpad = (st.k + 3) / 4 * 4;
    if (st.kpad > X5_MAX_KPAD) {
        ps_conv_run_portable(op, job);
        return;
    }
    st.group = x5_few_group(op->out_c, st.kpad);
    if (st.group == 0 && x5_pad_rows(op)) { /* each kernel row from a quad boundary */
        st.frow = (st.frow + 3) / 4 * 4;
        st.k = st.kpad = op->kernel_h * st.frow;
    }
    if (op->kind == PS_KIND_POINTWISE && job->pool == NULL &&
        (int64_t)op->batch * op->out_h * op->out_w <= X5_GEMV_PIXELS) {
        x5_gemv(op, op->batch * op->out_h * op->out_w, patch, job->output);
        return;
    }
    int32_t cc_max = (int32_t)(X5_PACK_BYTES / (16 * (size_t)st.kpad)) * 16;
    st.cc_max = cc_max < X5_MAX_CHUNK ? cc_max : X5_MAX_CHUNK;
    st.rqb = chan.gemm;
    st.wpack = wpack;
    st.patch = patch;
    if (st.group > 0) { /* out_c <= 8: pixels in the lanes */
        __builtin_cpu_init();
        /* VPERMB windows need contiguous kernel rows (and few of them); other layers, and
         * CPUs without VBMI, build every receptive field by masked loads */
        const int vbmi = __builtin_cpu_supports("avx512vbmi") && op->kind != PS_KIND_POINTWISE &&
                         op->dilation_w == 1 && op->kernel_h <= X5_FEW_ROWS;
        /* fused windows that each fit a vector row: x5_few_pooled_direct */
        st.few_vbmi = vbmi;
        st.few_direct = vbmi && job->pool != NULL && job->pool->stride_h >= job->pool->pool_h &&
                        job->pool->stride_w >= job->pool->pool_w && job->pool->pool_w <= st.group &&
                        (int64_t)(job->pool->pool_w - 1) * op->stride_w * op->in_c + op->kernel_w * op->in_c <= 64;
        ps_conv_exec ex = {op, x5_few_prepare, vbmi ? x5_few_row_vbmi : x5_few_row,
                           st.few_direct ? x5_few_pooled_row_direct
                                         : vbmi ? x5_few_pooled_row_vbmi : x5_few_pooled_row,
                           x5_ring_window, 0, 0, &st, x5_ring_row};
        ps_conv_drive(&ex, job);
        return;
    }
    ps_conv_exec ex = {op, x5_gemm_prepare, x5_gemm_row, x5_gemm_pooled_row, x5_ring_window, 0, 0, &st,
                       x5_ring_row};
    ps_conv_drive(&ex, job);
}

/* ---- the accumulator check's sums of |w| (common.c) ---------------------------------- */

X5 int64_t ps_abs_sum_row_avx512(const int8_t *w, int32_t taps)
{
    __m512i acc = _mm512_setzero_si512();
    for (int32_t t = 0; t < taps; t += 64) {
        const int32_t len = taps - t < 64 ? taps - t : 64;
        const __mmask64 m = len == 64 ? ~(__mmask64)0 : (__mmask64)((UINT64_C(1) << len) - 1u);
        /* |-128| = 128 as an unsigned byte; SAD against 0 sums 8 bytes per 64-bit lane */
        __m512i a = _mm512_abs_epi8(_mm512_maskz_loadu_epi8(m, w + t));
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(a, _mm512_setzero_si512()));
    }
    return _mm512_reduce_add_epi64(acc);
}

X5 void ps_abs_sum_columns_avx512(const int8_t *filter, int32_t taps, ptrdiff_t tap_step,
                                  int32_t len, int64_t *abs_sum)
{
    int32_t part[64] __attribute__((aligned(64)));
    __m512i acc[4];
    __mmask16 m[4];
    for (int v = 0; v < 4; v++) {
        acc[v] = _mm512_setzero_si512();
        m[v] = len - 16 * v > 0 ? x5_lanes(len - 16 * v) : 0;
    }
    for (int32_t t = 0; t < taps; t++) { /* taps < 2^23: 128 * taps fits int32 */
        const int8_t *w = filter + t * tap_step;
        for (int v = 0; v < 4; v++) {
            acc[v] = _mm512_add_epi32(acc[v], _mm512_abs_epi32(_mm512_cvtepi8_epi32(
                                                  _mm_maskz_loadu_epi8(m[v], w + 16 * v))));
        }
    }
    for (int v = 0; v < 4; v++) {
        _mm512_store_si512(part + 16 * v, acc[v]);
    }
    for (int32_t i = 0; i < len; i++) {
        abs_sum[i] = part[i];
    }
}

/* ---- pooling ------------------------------------------------------------------------ */

/* Bytes of one strip of vertical maxima (max pooling) on the stack. */
#define X5_POOL_BUF 16384

/* The first len (>= 1) bytes of a vector. */
X5I __mmask64 x5_pool_mask(int32_t len)
{
    return len >= 64 ? ~(__mmask64)0 : (__mmask64)((UINT64_C(1) << len) - 1u);
}

/* Windows taller than 256 rows (int16 column sums could overflow) or wider than the strip
 * buffer: each window directly. */
X5I void x5_avg_pool_direct(const ps_pool_params *pool, const ps_dims *input_dims,
                            const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    int32_t sums[16] __attribute__((aligned(64)));
    x5_avg a;
    int32_t avg_count = -1;
    int vector_avg = 0;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++, output += c) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                const int32_t count = (y1 - y0) * (x1 - x0);
                if (count != avg_count) {
                    vector_avg = x5_avg_init(&a, count, pool);
                    avg_count = count;
                }
                for (int32_t c0 = 0; c0 < c; c0 += 64) {
                    const int32_t len = c - c0 < 64 ? c - c0 : 64;
                    const int nv = (int)((len + 15) / 16);
                    __m512i s[4];
                    __mmask16 m[4];
                    for (int v = 0; v < 4; v++) {
                        s[v] = _mm512_setzero_si512();
                        m[v] = v < nv ? x5_lanes(len - 16 * v) : 0;
                    }
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *row = image + ((size_t)y * in_w) * c + c0;
                        for (int32_t x = x0; x < x1; x++) {
                            const int8_t *p = row + (size_t)x * c;
                            for (int v = 0; v < nv; v++) {
                                s[v] = _mm512_add_epi32(
                                    s[v], _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m[v], p + 16 * v)));
                            }
                        }
                    }
                    for (int v = 0; v < nv; v++) {
                        if (vector_avg) {
                            _mm512_mask_cvtepi32_storeu_epi8(output + c0 + 16 * v, m[v], x5_avg_apply(&a, s[v]));
                        } else {
                            _mm512_store_si512(sums, s[v]);
                            ps_pool_average_run(sums, count, len - 16 * v < 16 ? len - 16 * v : 16, pool,
                                                output + c0 + 16 * v);
                        }
                    }
                }
            }
        }
    }
}

/* int16 column sums of one strip of average pooling on the stack. */
#define X5_AVG_BUF 8192

/* dst[i] = sum over r < rows of src[r * row_bytes + i], i < bytes, in int16 (rows <= 256:
 * |sum| <= 128 * 256 fits), 32 bytes per vector along the contiguous run. */
X5I void x5_vsum16(const int8_t *src, size_t row_bytes, int32_t rows, int32_t bytes, int16_t *dst)
{
    for (int32_t i = 0; i < bytes; i += 32) {
        const __mmask32 m = (__mmask32)x5_pool_mask(bytes - i);
        const int8_t *p = src + i;
        __m512i a = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p));
        for (int32_t r = 1; r < rows; r++) {
            p += row_bytes;
            a = _mm512_add_epi16(a, _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, p)));
        }
        _mm512_mask_storeu_epi16(dst + i, m, a);
    }
}

/* The average of a power-of-two count <= 256 in int16 lanes: the window sums lie in
 * [-128 * 256, 127 * 256], so they and (for "tflite" rounding) |sum| + count / 2 <= 2^15 + 128,
 * taken as unsigned 16-bit, are exact. */
typedef struct {
    __m128i k;
    __m512i half, lo, hi;
    ps_pool_rounding rounding;
} x5_avg16;

X5I int x5_avg16_init(x5_avg16 *a, int32_t count, const ps_pool_params *pool)
{
    const int k = ps_exact_log2(count);
    if (k < 0 || count > 256) {
        return 0;
    }
    a->k = _mm_cvtsi32_si128(k);
    a->half = _mm512_set1_epi16((short)(count / 2));
    a->lo = _mm512_set1_epi16((short)pool->act_min);
    a->hi = _mm512_set1_epi16((short)pool->act_max);
    a->rounding = pool->rounding;
    return 1;
}

X5I __m512i x5_avg16_apply(const x5_avg16 *a, __m512i s)
{
    __m512i v;
    if (a->rounding == PS_ROUND_FLOOR) {
        v = _mm512_sra_epi16(s, a->k);
    } else if (a->rounding == PS_ROUND_HALF_UP) {
        v = _mm512_sra_epi16(_mm512_add_epi16(s, a->half), a->k);
    } else { /* half away from zero: sign(s) * ((|s| + half) >> k), |s| unsigned (|-2^15| = 2^15) */
        v = _mm512_srl_epi16(_mm512_add_epi16(_mm512_abs_epi16(s), a->half), a->k);
        v = _mm512_mask_sub_epi16(v, _mm512_cmple_epi16_mask(s, _mm512_setzero_si512()),
                                  _mm512_setzero_si512(), v);
    }
    return _mm512_min_epi16(_mm512_max_epi16(v, a->lo), a->hi);
}

/* Separable, as the max pool: per output row, the int16 sums of its window rows over a
 * strip of input columns, then each pixel's sum over its window's columns in int32 and
 * the average of the window's count (x5_avg_apply; ps_pool_average_run past 2^20). */
X5 void ps_avg_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                             const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const int32_t out_w = output_dims->w;
    if (pool->pool_h > 256 || (int64_t)pool->pool_w * c > X5_AVG_BUF) {
        x5_avg_pool_direct(pool, input_dims, input, output_dims, output);
        return;
    }
    int16_t buf[X5_AVG_BUF + 32] __attribute__((aligned(64)));
    int32_t sums[16] __attribute__((aligned(64)));
    x5_avg a;
    x5_avg16 a16;
    memset(&a, 0, sizeof a); /* set on the first window; zeroed for the compiler's sake */
    memset(&a16, 0, sizeof a16);
    int32_t avg_count = -1;
    int vector_avg = 0, shift16 = 0;
    const int32_t strip = (X5_AVG_BUF / c - pool->pool_w) / pool->stride_w + 1;
    const size_t row_bytes = (size_t)in_w * c;
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
                x5_vsum16(image + (size_t)y0 * row_bytes + (size_t)xa * c, row_bytes, y1 - y0,
                          (xb - xa) * c, buf);
                for (int32_t px = pa; px < pb; px++, output += c) {
                    int32_t x0, x1;
                    ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                    const int32_t count = (y1 - y0) * (x1 - x0);
                    if (count != avg_count) {
                        vector_avg = x5_avg_init(&a, count, pool);
                        shift16 = x5_avg16_init(&a16, count, pool);
                        avg_count = count;
                    }
                    const int16_t *col = buf + (size_t)(x0 - xa) * c;
                    if (shift16) { /* 32 channels per vector, all in int16 */
                        for (int32_t c0 = 0; c0 < c; c0 += 32) {
                            const __mmask32 m = (__mmask32)x5_pool_mask(c - c0);
                            __m512i s = _mm512_maskz_loadu_epi16(m, col + c0);
                            for (int32_t x = 1; x < x1 - x0; x++) {
                                s = _mm512_add_epi16(s, _mm512_maskz_loadu_epi16(m, col + (size_t)x * c + c0));
                            }
                            _mm512_mask_cvtepi16_storeu_epi8(output + c0, m, x5_avg16_apply(&a16, s));
                        }
                        continue;
                    }
                    for (int32_t c0 = 0; c0 < c; c0 += 16) {
                        const int32_t len = c - c0 < 16 ? c - c0 : 16;
                        const __mmask16 m = x5_lanes(len);
                        __m512i s = _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(m, col + c0));
                        for (int32_t x = 1; x < x1 - x0; x++) {
                            s = _mm512_add_epi32(s, _mm512_cvtepi16_epi32(
                                                        _mm256_maskz_loadu_epi16(m, col + (size_t)x * c + c0)));
                        }
                        if (vector_avg) {
                            _mm512_mask_cvtepi32_storeu_epi8(output + c0, m, x5_avg_apply(&a, s));
                        } else {
                            _mm512_store_si512(sums, s);
                            ps_pool_average_run(sums, count, len, pool, output + c0);
                        }
                    }
                }
            }
        }
    }
}

/* One vector of vertical maxima: dst[i] = max over r < rows of src[r * row_bytes + i], i in m. */
X5I void x5_vmax_vec(const int8_t *src, size_t row_bytes, int32_t rows, __mmask64 m, int8_t *dst)
{
    __m512i a = _mm512_maskz_loadu_epi8(m, src);
    for (int32_t r = 1; r < rows; r++) {
        src += row_bytes;
        a = _mm512_max_epi8(a, _mm512_maskz_loadu_epi8(m, src));
    }
    _mm512_mask_storeu_epi8(dst, m, a);
}

/* Vertical maxima of bytes [head, end) from src (64-byte aligned: head = the run's offset
 * in its first vector, so the first row's loads never split a cache line) into dst (the
 * same offsets). A run of pixels is contiguous whatever C is: full vectors along it, 4 per
 * pass over the rows. The masked loads read nothing outside [head, end). */
X5I void x5_vmax(const int8_t *src, size_t row_bytes, int32_t rows, int32_t head, int32_t end,
                 int8_t *dst)
{
    int32_t i = 0;
    if (head > 0) {
        x5_vmax_vec(src, row_bytes, rows, x5_pool_mask(end) & ~x5_pool_mask(head), dst);
        i = 64;
    }
    for (; i + 256 <= end; i += 256) {
        const int8_t *p = src + i;
        __m512i a = _mm512_loadu_si512(p), b = _mm512_loadu_si512(p + 64);
        __m512i c = _mm512_loadu_si512(p + 128), d = _mm512_loadu_si512(p + 192);
        for (int32_t r = 1; r < rows; r++) {
            p += row_bytes;
            a = _mm512_max_epi8(a, _mm512_loadu_si512(p));
            b = _mm512_max_epi8(b, _mm512_loadu_si512(p + 64));
            c = _mm512_max_epi8(c, _mm512_loadu_si512(p + 128));
            d = _mm512_max_epi8(d, _mm512_loadu_si512(p + 192));
        }
        _mm512_storeu_si512(dst + i, a);
        _mm512_storeu_si512(dst + i + 64, b);
        _mm512_storeu_si512(dst + i + 128, c);
        _mm512_storeu_si512(dst + i + 192, d);
    }
    for (; i < end; i += 64) {
        x5_vmax_vec(src + i, row_bytes, rows, x5_pool_mask(end - i), dst + i);
    }
}

/* Interior pixels (unclipped windows of kw columns, the first at p, then every step bytes)
 * of c <= 64 channels: kw is a constant where inlined for the common windows; vectors no
 * wider than c (a masked 64-byte load still pays for the cache lines it spans). */
X5I void x5_hmax_interior(const int8_t *p, size_t step, int32_t kw, int32_t c, int32_t count,
                          const ps_pool_params *pool, int8_t *out)
{
    if (c <= 16) {
        const __m128i lo = _mm_set1_epi8((char)pool->act_min), hi = _mm_set1_epi8((char)pool->act_max);
        const __mmask16 m = (__mmask16)x5_pool_mask(c);
        for (int32_t i = 0; i < count; i++, p += step, out += c) {
            __m128i best = _mm_maskz_loadu_epi8(m, p);
            for (int32_t t = 1; t < kw; t++) {
                best = _mm_max_epi8(best, _mm_maskz_loadu_epi8(m, p + (size_t)t * c));
            }
            _mm_mask_storeu_epi8(out, m, _mm_min_epi8(_mm_max_epi8(best, lo), hi));
        }
    } else if (c <= 32) {
        const __m256i lo = _mm256_set1_epi8((char)pool->act_min), hi = _mm256_set1_epi8((char)pool->act_max);
        const __mmask32 m = (__mmask32)x5_pool_mask(c);
        int32_t i = 0;
        for (; i + 2 <= count; i += 2, p += 2 * step, out += 2 * c) {
            __m256i b0 = _mm256_maskz_loadu_epi8(m, p), b1 = _mm256_maskz_loadu_epi8(m, p + step);
            for (int32_t t = 1; t < kw; t++) {
                b0 = _mm256_max_epi8(b0, _mm256_maskz_loadu_epi8(m, p + (size_t)t * c));
                b1 = _mm256_max_epi8(b1, _mm256_maskz_loadu_epi8(m, p + step + (size_t)t * c));
            }
            _mm256_mask_storeu_epi8(out, m, _mm256_min_epi8(_mm256_max_epi8(b0, lo), hi));
            _mm256_mask_storeu_epi8(out + c, m, _mm256_min_epi8(_mm256_max_epi8(b1, lo), hi));
        }
        for (; i < count; i++, p += step, out += c) {
            __m256i best = _mm256_maskz_loadu_epi8(m, p);
            for (int32_t t = 1; t < kw; t++) {
                best = _mm256_max_epi8(best, _mm256_maskz_loadu_epi8(m, p + (size_t)t * c));
            }
            _mm256_mask_storeu_epi8(out, m, _mm256_min_epi8(_mm256_max_epi8(best, lo), hi));
        }
    } else {
        const __m512i lo = _mm512_set1_epi8((char)pool->act_min), hi = _mm512_set1_epi8((char)pool->act_max);
        const __mmask64 m = x5_pool_mask(c);
        for (int32_t i = 0; i < count; i++, p += step, out += c) {
            __m512i best = _mm512_maskz_loadu_epi8(m, p);
            for (int32_t t = 1; t < kw; t++) {
                best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(m, p + (size_t)t * c));
            }
            _mm512_mask_storeu_epi8(out, m, _mm512_min_epi8(_mm512_max_epi8(best, lo), hi));
        }
    }
}

/* Output pixels pa <= px < pb of one row: the max over each clipped window's columns of
 * v (vertical maxima of input columns xa.., c bytes each), clamped. */
X5I void x5_hmax(const int8_t *v, int32_t xa, int32_t c, const ps_pool_params *pool, int32_t in_w,
                 int32_t pa, int32_t pb, int8_t *out)
{
    const __m512i lo = _mm512_set1_epi8((char)pool->act_min), hi = _mm512_set1_epi8((char)pool->act_max);
    const int32_t s = pool->stride_w, kw = pool->pool_w, pad = pool->pad_left;
    /* windows of pi0 <= px < pi1 lie inside the input: px * s >= pad, px * s - pad + kw <= in_w */
    int32_t pi0 = (pad + s - 1) / s, pi1 = in_w + pad >= kw ? (in_w + pad - kw) / s + 1 : 0;
    pi0 = pi0 < pa ? pa : pi0 > pb ? pb : pi0;
    pi1 = pi1 > pb ? pb : pi1 < pi0 ? pi0 : pi1;
    for (int32_t px = pa; px < pb; px++, out += c) {
        if (px == pi0 && pi1 > pi0 && c <= 64) {
            const int8_t *p = v + (size_t)(px * s - pad - xa) * c;
            const size_t step = (size_t)s * c;
            if (kw == 3) {
                x5_hmax_interior(p, step, 3, c, pi1 - pi0, pool, out);
            } else if (kw == 2) {
                x5_hmax_interior(p, step, 2, c, pi1 - pi0, pool, out);
            } else {
                x5_hmax_interior(p, step, kw, c, pi1 - pi0, pool, out);
            }
            out += (size_t)(pi1 - pi0 - 1) * c;
            px = pi1 - 1;
            continue;
        }
        int32_t x0, x1;
        ps_pool_window(px, s, pad, kw, in_w, &x0, &x1);
        const int8_t *p = v + (size_t)(x0 - xa) * c;
        for (int32_t c0 = 0; c0 < c; c0 += 64) {
            const __mmask64 m = x5_pool_mask(c - c0);
            __m512i best = _mm512_maskz_loadu_epi8(m, p + c0);
            for (int32_t x = 1; x < x1 - x0; x++) {
                best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(m, p + (size_t)x * c + c0));
            }
            best = _mm512_min_epi8(_mm512_max_epi8(best, lo), hi);
            _mm512_mask_storeu_epi8(out + c0, m, best);
        }
    }
}

/* Windows wider than the strip buffer (pool_w * C > X5_POOL_BUF): each window directly. */
X5I void x5_max_pool_direct(const ps_pool_params *pool, const ps_dims *input_dims,
                            const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const __m512i lo = _mm512_set1_epi8((char)pool->act_min), hi = _mm512_set1_epi8((char)pool->act_max);
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++, output += c) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                for (int32_t c0 = 0; c0 < c; c0 += 64) {
                    const __mmask64 m = x5_pool_mask(c - c0);
                    __m512i best = _mm512_set1_epi8(-128);
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *row = image + ((size_t)y * in_w) * c + c0;
                        for (int32_t x = x0; x < x1; x++) {
                            best = _mm512_max_epi8(best, _mm512_maskz_loadu_epi8(m, row + (size_t)x * c));
                        }
                    }
                    best = _mm512_min_epi8(_mm512_max_epi8(best, lo), hi);
                    _mm512_mask_storeu_epi8(output + c0, m, best);
                }
            }
        }
    }
}

/* The vertical max of 64 bytes at p over rows rows (row_bytes apart), bytes in m only. */
X5I __m512i x5_vmax_reg(const int8_t *p, size_t row_bytes, int32_t rows, __mmask64 m)
{
    __m512i a = _mm512_maskz_loadu_epi8(m, p);
    for (int32_t r = 1; r < rows; r++) {
        a = _mm512_max_epi8(a, _mm512_maskz_loadu_epi8(m, p + (size_t)r * row_bytes));
    }
    return a;
}

/* One output row of 32 channels, stride 2, windows of kw = 2 or 3 columns, from rows rows
 * of the input at `rows0`: no buffer. V_j, the vertical max of columns 2j and 2j + 1 in a
 * register, gives the unclipped pixel pair (j, j + 1) as the max of [V_j.lo | V_j+1.lo],
 * [V_j.hi | V_j+1.hi] and, for kw = 3, [V_j+1.lo | V_j+2.lo]. Clipped windows (borders)
 * and an odd last pixel take their window's max directly. */
X5I void x5_max_row_c32_s2(const int8_t *rows0, size_t row_bytes, int32_t rows,
                           const ps_pool_params *pool, int32_t in_w, int32_t out_w, int8_t *out)
{
    const __m512i lo = _mm512_set1_epi8((char)pool->act_min), hi = _mm512_set1_epi8((char)pool->act_max);
    const int32_t kw = pool->pool_w, pad = pool->pad_left;
    const __mmask64 half = x5_pool_mask(32);
    int32_t pi0 = (pad + 1) / 2, pi1 = in_w + pad >= kw ? (in_w + pad - kw) / 2 + 1 : 0;
    pi0 = pi0 > out_w ? out_w : pi0;
    pi1 = pi1 > out_w ? out_w : pi1 < pi0 ? pi0 : pi1;
    int32_t px = pi0;
    const int8_t *p = rows0 + (size_t)(pi0 * 2 - pad) * 32;
    __m512i vj = _mm512_setzero_si512();
    if (px + 2 <= pi1) {
        vj = x5_vmax_reg(p, row_bytes, rows, ~(__mmask64)0);
    }
    for (; px + 2 <= pi1; px += 2, p += 128) {
        const __m512i v1 = x5_vmax_reg(p + 64, row_bytes, rows, ~(__mmask64)0);
        __m512i best = _mm512_max_epi8(_mm512_shuffle_i64x2(vj, v1, _MM_SHUFFLE(1, 0, 1, 0)),
                                       _mm512_shuffle_i64x2(vj, v1, _MM_SHUFFLE(3, 2, 3, 2)));
        if (kw == 3) {
            /* V_j+2, the next pair's V_j: column 2j + 5 only if a pixel past this pair reads it */
            vj = x5_vmax_reg(p + 128, row_bytes, rows, px + 2 < pi1 ? ~(__mmask64)0 : half);
            best = _mm512_max_epi8(best, _mm512_shuffle_i64x2(v1, vj, _MM_SHUFFLE(1, 0, 1, 0)));
        } else if (px + 4 <= pi1) {
            vj = x5_vmax_reg(p + 128, row_bytes, rows, ~(__mmask64)0);
        }
        _mm512_storeu_si512(out + (size_t)px * 32, _mm512_min_epi8(_mm512_max_epi8(best, lo), hi));
    }
    /* the rest: pixels before pi0, an odd one at pi1 - 1, those from pi1 on */
    for (int32_t q = 0; q < out_w; q++) {
        if (q == pi0) {
            q = px;
            if (q >= out_w) {
                break;
            }
        }
        int32_t x0, x1;
        ps_pool_window(q, 2, pad, kw, in_w, &x0, &x1);
        __m512i best = x5_vmax_reg(rows0 + (size_t)x0 * 32, row_bytes, rows, half);
        for (int32_t x = x0 + 1; x < x1; x++) {
            best = _mm512_max_epi8(best, x5_vmax_reg(rows0 + (size_t)x * 32, row_bytes, rows, half));
        }
        _mm512_mask_storeu_epi8(out + (size_t)q * 32, half, _mm512_min_epi8(_mm512_max_epi8(best, lo), hi));
    }
}

/* Separable: per output row, the vertical max of its window's rows over a strip of input
 * columns (full vectors; shared by overlapping windows), then each pixel's horizontal max
 * over its window's columns. A one-row window reads the input row itself. */
X5 void ps_max_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                             const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const int32_t out_w = output_dims->w;
    if ((int64_t)pool->pool_w * c > X5_POOL_BUF) {
        x5_max_pool_direct(pool, input_dims, input, output_dims, output);
        return;
    }
    int8_t buf[X5_POOL_BUF + 64] __attribute__((aligned(64)));
    /* output columns per strip: their input columns, (strip - 1) * stride + pool_w, fit buf */
    const int32_t strip = (X5_POOL_BUF / c - pool->pool_w) / pool->stride_w + 1;
    const size_t row_bytes = (size_t)in_w * c;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * row_bytes;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            if (c == 32 && pool->stride_w == 2 && (pool->pool_w == 2 || pool->pool_w == 3)) {
                if (y1 - y0 == 3) { /* the usual 3x3 window: the row loop unrolled */
                    x5_max_row_c32_s2(image + (size_t)y0 * row_bytes, row_bytes, 3, pool, in_w, out_w, output);
                } else {
                    x5_max_row_c32_s2(image + (size_t)y0 * row_bytes, row_bytes, y1 - y0, pool, in_w, out_w,
                                      output);
                }
                output += (size_t)out_w * c;
                continue;
            }
            for (int32_t pa = 0; pa < out_w; pa += strip) {
                const int32_t pb = out_w - pa < strip ? out_w : pa + strip;
                int32_t xa, xb, unused;
                ps_pool_window(pa, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &xa, &unused);
                ps_pool_window(pb - 1, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &unused, &xb);
                const int8_t *v = image + (size_t)y0 * row_bytes + (size_t)xa * c;
                if (y1 - y0 > 1) {
                    /* buf takes v's offset in its cache line: aligned loads (first row) */
                    const int32_t head = (int32_t)((uintptr_t)v & 63);
                    x5_vmax((const int8_t *)(uintptr_t)((uintptr_t)v - (uintptr_t)head), row_bytes,
                            y1 - y0, head, head + (xb - xa) * c, buf);
                    v = buf + head;
                }
                x5_hmax(v, xa, c, pool, in_w, pa, pb, output);
                output += (size_t)(pb - pa) * c;
            }
        }
    }
}

#else /* not an x86-64 GCC/Clang build: never called (ps_kernel_path_supported is 0) */

void ps_conv_run_avx512(const ps_conv_op *op, const ps_conv_job *job)
{
    ps_conv_run_portable(op, job);
}

void ps_avg_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                          const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    ps_avg_pool2d_fast(pool, input_dims, input, output_dims, output);
}

int64_t ps_abs_sum_row_avx512(const int8_t *w, int32_t taps)
{
    int64_t s = 0;
    for (int32_t t = 0; t < taps; t++) {
        s += w[t] < 0 ? -w[t] : w[t];
    }
    return s;
}

void ps_abs_sum_columns_avx512(const int8_t *filter, int32_t taps, ptrdiff_t tap_step,
                               int32_t len, int64_t *abs_sum)
{
    for (int32_t i = 0; i < len; i++) {
        abs_sum[i] = 0;
        for (int32_t t = 0; t < taps; t++) {
            int32_t v = filter[t * tap_step + i];
            abs_sum[i] += v < 0 ? -v : v;
        }
    }
}

void ps_max_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                          const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    ps_max_pool2d_fast(pool, input_dims, input, output_dims, output);
}

#endif
