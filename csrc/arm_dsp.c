/*
 * PS_PATH_DSP: the conv-like ops written around the Cortex-M DSP extension (Armv7E-M and
 * Armv8-M Mainline with DSP: Cortex-M4, M7, M33, M55).
 *
 * Where __ARM_FEATURE_DSP is defined, the lane operations below are the ACLE intrinsics
 * (SXTB16, SXTAB16, SMLAD, SMLABB/SMLATT, SSAT) plus inline assembly for what ACLE lacks in
 * GCC 12 (SXTB16/SXTAB16 with ROR #8, and LDM into named registers: a multiple load is one
 * instruction); on other hosts they are small C99 functions with the same results, so the
 * host's property tests check the very loops a microcontroller executes. Arm builds
 * without the extension (Cortex-M0+) leave the path out (PS_DSP_PATH_BUILT).
 *
 *  - conv2d, pointwise, fully connected (CMSIS-NN's ideas, our own code): blocks of 4
 *    output pixels whose receptive fields are widened once to int16 (x - input_zp) with
 *    SXTAB16, in the lane order SXTB16 gives the weights, (x0, x2), (x1, x3) per 4 taps,
 *    so nothing is repacked; each output channel then reads 4 int8 weights per load,
 *    widens them with SXTB16 / SXTB16 ROR 8 and accumulates its 4 pixels with 8 SMLADs,
 *    the columns fetched by two LDMs (15 instructions per 16 MACs). A conv2d gathers each
 *    pixel's bytes first (whole kernel rows at once inside the image); a 1x1 conv widens
 *    the input pixels where they are, its unfused batch one long row; a lone pixel (a
 *    fully connected row) runs a 1 x 1 kernel.
 *  - depthwise (depth multiplier 1): chunks of channels whose weights are widened once per
 *    call into int16 pairs (c, c+2) and (c+1, c+3), each tap's input offset beside them so
 *    one LDM fetches a tap; four channels per SXTAB16 pair with SMLABB/SMLATT; border
 *    pixels skip their padding taps as a rectangle. Other depthwise layers: plain loops.
 *  - requantization: TFLite's double rounding exactly, as one SMLAL onto a per-channel
 *    64-bit constant and one ASR (dsp_rq_fast, shift <= -2); SSAT for the int8 activation
 *    range; any other channel (single rounding, shift > -2) through requant.h.
 *  - fused pooling: a window of at most 4 pixels (one block) is averaged straight from
 *    registers, larger ones through the sums; ring windows are summed in int16 lanes.
 *
 * One stack buffer (DSP_BUF_WORDS) holds the block column or the packed depthwise chunk; a
 * receptive field longer than it is taken in chunks, with the int32 partial sums of
 * DSP_SPLIT_CHANNELS channels at a time. Accumulators are int32 and exact:
 * ps_check_accumulator has bounded every partial sum of (x - input_zp) * w terms plus the
 * bias, and the padding lanes add 0.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "pyshrink.h"
#include "requant.h"

#if !PS_DSP_PATH_BUILT
/* an Arm target without the DSP extension: the path is not built (never supported there) */
void ps_conv_run_dsp(const ps_conv_op *op, const ps_conv_job *job)
{
    (void)op;
    (void)job;
}
#else

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__) && \
    !defined(__ARM_BIG_ENDIAN)
#include <arm_acle.h>
#define DSP_NATIVE 1
#else
#define DSP_NATIVE 0
#endif

#if defined(__GNUC__)
#define DSP_INLINE static inline __attribute__((always_inline))
#define DSP_NOINLINE static __attribute__((noinline)) /* a frame of its own: a shallow stack */
#else
#define DSP_INLINE static inline
#define DSP_NOINLINE static
#endif

#define DSP_BUF_WORDS 112 /* 448 bytes: the path's one stack buffer */
#define DSP_SPLIT_CHANNELS 16 /* channels per chunk when the receptive field is split */

/* ---- the DSP operations: intrinsics on Arm, the same results in C99 elsewhere ---------- */

/* Two's complement reinterpretations, with no implementation-defined conversion. */
DSP_INLINE int32_t dsp_i32(uint32_t u)
{
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) + INT32_MIN;
}

DSP_INLINE int32_t dsp_lo16(uint32_t u) /* halfword 0, sign-extended (one SXTH) */
{
    return (int32_t)((u & 0xFFFFu) ^ 0x8000u) - 0x8000;
}

#if !DSP_NATIVE

DSP_INLINE int32_t dsp_byte(uint32_t u, int i) /* byte i, sign-extended */
{
    return (int32_t)(((u >> (8 * i)) & 0xFFu) ^ 0x80u) - 0x80;
}

DSP_INLINE uint32_t dsp_pack16(int32_t lo, int32_t hi) /* each taken modulo 2^16 */
{
    return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16);
}
#endif

/* A 32-bit little-endian word from any address (one LDR on Cortex-M4/M7: unaligned is fine). */
DSP_INLINE uint32_t dsp_load32(const void *p)
{
#if DSP_NATIVE
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
#else
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
#endif
}

/* SXTB16: bytes 0 and 2 sign-extended into the two halfwords. */
DSP_INLINE uint32_t dsp_sxtb16(uint32_t x)
{
#if DSP_NATIVE
    return (uint32_t)__sxtb16((int32_t)x);
#else
    return dsp_pack16(dsp_byte(x, 0), dsp_byte(x, 2));
#endif
}

/* SXTB16 x, ROR #8: bytes 1 and 3. */
DSP_INLINE uint32_t dsp_sxtb16_ror8(uint32_t x)
{
#if DSP_NATIVE
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
#else
    return dsp_pack16(dsp_byte(x, 1), dsp_byte(x, 3));
#endif
}

/* SXTAB16: a's halfwords plus bytes 0 and 2 of x, each modulo 2^16. */
DSP_INLINE uint32_t dsp_sxtab16(uint32_t a, uint32_t x)
{
#if DSP_NATIVE
    return (uint32_t)__sxtab16((int32_t)a, (int32_t)x);
#else
    return dsp_pack16(dsp_lo16(a) + dsp_byte(x, 0), dsp_lo16(a >> 16) + dsp_byte(x, 2));
#endif
}

/* SXTAB16 a, x, ROR #8: a's halfwords plus bytes 1 and 3 of x. */
DSP_INLINE uint32_t dsp_sxtab16_ror8(uint32_t a, uint32_t x)
{
#if DSP_NATIVE
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
#else
    return dsp_pack16(dsp_lo16(a) + dsp_byte(x, 1), dsp_lo16(a >> 16) + dsp_byte(x, 3));
#endif
}

/* SMLAD: acc + a.lo * b.lo + a.hi * b.hi, modulo 2^32. */
DSP_INLINE int32_t dsp_smlad(uint32_t a, uint32_t b, int32_t acc)
{
#if DSP_NATIVE
    return __smlad((int32_t)a, (int32_t)b, acc);
#else
    return dsp_i32((uint32_t)acc + (uint32_t)(dsp_lo16(a) * dsp_lo16(b)) +
                   (uint32_t)(dsp_lo16(a >> 16) * dsp_lo16(b >> 16)));
#endif
}

/* SMLABB: acc + a.lo * b.lo; SMLATT: acc + a.hi * b.hi (modulo 2^32). */
DSP_INLINE int32_t dsp_smlabb(uint32_t a, uint32_t b, int32_t acc)
{
#if DSP_NATIVE
    return __smlabb((int32_t)a, (int32_t)b, acc);
#else
    return dsp_i32((uint32_t)acc + (uint32_t)(dsp_lo16(a) * dsp_lo16(b)));
#endif
}

DSP_INLINE int32_t dsp_smlatt(uint32_t a, uint32_t b, int32_t acc)
{
#if DSP_NATIVE
    return __smlatt((int32_t)a, (int32_t)b, acc);
#else
    return dsp_i32((uint32_t)acc + (uint32_t)(dsp_lo16(a >> 16) * dsp_lo16(b >> 16)));
#endif
}

/* SSAT #8: v clamped to [-128, 127]. */
DSP_INLINE int32_t dsp_ssat8(int32_t v)
{
#if DSP_NATIVE
    return __ssat(v, 8);
#else
    return v < -128 ? -128 : v > 127 ? 127 : v;
#endif
}

/* Arithmetic shift right (floor of v / 2^e), written without >> of a negative value;
 * GCC emits one ASR for it. */
DSP_INLINE int32_t dsp_asr(int32_t v, int32_t e)
{
    return v >= 0 ? v >> e : ~(~v >> e);
}

/* n < 4 bytes from p in the low bytes, `fill`'s bytes above them (no read past p + n). */
DSP_INLINE uint32_t dsp_load_partial(const void *p, int32_t n, uint32_t fill)
{
    const uint8_t *b = (const uint8_t *)p;
    uint32_t v = fill;
    for (int32_t i = 0; i < n; i++) {
        v = (v & ~(0xFFu << (8 * i))) | ((uint32_t)b[i] << (8 * i));
    }
    return v;
}

/* Word loads from a uint32_t buffer: one LDM each on Arm (a multiple load is one
 * instruction), with the destination registers named because LDM's list must ascend
 * (r7, Thumb's frame pointer, and r9, the platform register, left out). */
DSP_INLINE void dsp_ldm4(const uint32_t **p, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
#if DSP_NATIVE
    register uint32_t ra __asm__("r4");
    register uint32_t rb __asm__("r5");
    register uint32_t rc __asm__("r6");
    register uint32_t rd __asm__("r8");
    __asm__("ldmia %0!, {%1, %2, %3, %4}"
            : "+r"(*p), "=r"(ra), "=r"(rb), "=r"(rc), "=r"(rd)
            : "m"(*(const uint32_t(*)[4]) * p));
    *a = ra;
    *b = rb;
    *c = rc;
    *d = rd;
#else
    const uint32_t *q = *p;
    *a = q[0];
    *b = q[1];
    *c = q[2];
    *d = q[3];
    *p = q + 4;
#endif
}

DSP_INLINE void dsp_ldm3(const uint32_t **p, uint32_t *a, uint32_t *b, uint32_t *c)
{
#if DSP_NATIVE
    register uint32_t ra __asm__("r4");
    register uint32_t rb __asm__("r5");
    register uint32_t rc __asm__("r6");
    __asm__("ldmia %0!, {%1, %2, %3}"
            : "+r"(*p), "=r"(ra), "=r"(rb), "=r"(rc)
            : "m"(*(const uint32_t(*)[3]) * p));
    *a = ra;
    *b = rb;
    *c = rc;
#else
    const uint32_t *q = *p;
    *a = q[0];
    *b = q[1];
    *c = q[2];
    *p = q + 3;
#endif
}

/* ---- requantization ------------------------------------------------------------------ */

/* A channel's record, for the depthwise chunks (3 words). */
enum { DSP_P_BIAS = 0, DSP_P_MULT = 1, DSP_P_CHI = 2, DSP_P_WORDS = 3 };

/* A channel's record: bias; for the fast requantization (double rounding with shift <= -2,
 * so e = -shift >= 2 and no left shift) the multiplier and the high word of the 64-bit
 * constant 2^30 + 2^(30 + e), 2^(e - 2) (its low word is 2^30; e - 1 = 32 - clz of it). */
static void dsp_param(uint32_t *p, const ps_conv_op *op, int32_t oc)
{
    const int32_t e = -op->quant->shift[oc];
    p[DSP_P_BIAS] = op->bias != NULL ? (uint32_t)op->bias[oc] : 0u;
    p[DSP_P_MULT] = (uint32_t)op->quant->multiplier[oc];
    p[DSP_P_CHI] = e >= 2 ? UINT32_C(1) << (e - 2) : 0u;
}

/* e - 1 from the record's 2^(e - 2), e >= 2: 32 - its leading zeros (one CLZ). */
DSP_INLINE uint32_t dsp_e1(uint32_t chi)
{
#if defined(__GNUC__)
    return 32u - (uint32_t)__builtin_clz(chi);
#else
    uint32_t e1 = 0;
    for (; chi != 0; chi >>= 1) {
        e1++;
    }
    return e1;
#endif
}

/* Whether every channel takes the fast requantization. */
static int dsp_fast_quant(const ps_quant_params *q, int32_t channels)
{
    if (q->requant != PS_REQUANT_DOUBLE) {
        return 0;
    }
    for (int32_t oc = 0; oc < channels; oc++) {
        if (q->shift[oc] > -2) {
            return 0;
        }
    }
    return 1;
}

/* ps_mbqm_double(acc, mult, shift) for shift = -e <= -2 (so no left shift) and a multiplier
 * ps_check_quant admits (0 or [2^30, 2^31 - 1]), in 64 bits:
 *   SRDHM(acc, m) = floor((acc * m + 2^30) / 2^31): gemmlowp's nudge (2^30, or 1 - 2^30
 *     for a negative product, then truncation toward zero) is that for either sign;
 *   RoundingDivideByPOT(s, e) = floor((s + 2^(e-1) - [s < 0]) / 2^e), and
 *   floor((floor(a / 2^31) + n) / 2^e) = floor((a + n 2^31) / 2^(31+e)), so
 *   q = floor(v / 2^(31+e)), v = acc * m + 2^30 + 2^(30+e) - [s < 0] 2^31.
 * [s < 0] is [acc < 0] for every admitted multiplier: they differ only for acc = -1 with
 * m = 2^30 (s = 0) or m = 0 (s = 0), where both give q = 0. |v| < 2^63, and with v = hi 2^32
 * + lo, q = floor(hi / 2^(e-1)) (lo < 2^32 cannot carry into it): one SMLAL onto the
 * constant (acc's sign folded in by an OR, bit 31 of the low word being 0, and an add),
 * one ASR of the high word. |q| <= 2^29, so q + output_zp never wraps. */
DSP_INLINE int32_t dsp_rq_fast(int32_t acc, uint32_t mult, uint32_t chi, uint32_t e1)
{
    const uint32_t lo = (UINT32_C(1) << 30) | ((uint32_t)acc & 0x80000000u);
    const uint32_t hi = chi + (uint32_t)dsp_asr(acc, 31);
    const uint64_t v = (((uint64_t)hi << 32) | lo) + (uint64_t)((int64_t)acc * dsp_i32(mult));
    return dsp_asr(dsp_i32((uint32_t)(v >> 32)), (int32_t)e1);
}

/* Any channel: requant.h's ps_requantize (kept out of line: the rare, slow case). */
DSP_NOINLINE int32_t dsp_rq_generic(int32_t acc, int32_t oc, const ps_quant_params *q)
{
    return ps_requantize(acc, q->multiplier[oc], q->shift[oc], q);
}

/* How a call requantizes: fast (dsp_rq_fast) or not, and its activation clamp. */
typedef struct {
    const ps_quant_params *q;
    int32_t zp;
    int fast, full; /* full: the activation range is int8's (SSAT alone clamps) */
} dsp_rq;

/* A channel's words for dsp_rq_fast. */
typedef struct {
    uint32_t mult, chi, e1;
} dsp_ch;

/* From the call's multiplier and shift (e = -shift >= 2 in the fast requantization). */
DSP_INLINE dsp_ch dsp_ch_at(const ps_quant_params *q, int32_t oc)
{
    dsp_ch ch;
    const int32_t shift = q->shift[oc];
    ch.mult = (uint32_t)q->multiplier[oc];
    /* 2^(e - 2) = 2^30 >> (32 - e), and e - 1 = ~shift (& 31: defined for any shift; the
     * values are used only for shift <= -2) */
    ch.chi = (UINT32_C(1) << 30) >> ((32 + shift) & 31);
    ch.e1 = ~(uint32_t)shift & 31u;
    return ch;
}

/* An output value, int8. fast / full are constants where the hot case is inlined. */
DSP_INLINE int32_t dsp_out(int32_t acc, const dsp_ch *ch, int32_t oc, const dsp_rq *r,
                           int32_t zp, const int fast, const int full)
{
    if (!fast) {
        return dsp_rq_generic(acc, oc, r->q);
    }
    int32_t v = dsp_ssat8(dsp_rq_fast(acc, ch->mult, ch->chi, ch->e1) + zp);
    if (!full) {
        v = v < r->q->act_min ? r->q->act_min : v;
        v = v > r->q->act_max ? r->q->act_max : v;
    }
    return v;
}

/* ---- pool averages --------------------------------------------------------------------- */

/* ps_pool_average for one window count, its branches and divisor worked out once. */
typedef struct {
    int32_t count, half, k; /* k = log2(count), or -1 */
    uint32_t magic;
    int32_t magic_shift; /* >= 32 */
    int full;            /* the pool's activation range is [-128, 127] */
    int simple;          /* full, "tflite" rounding and a power-of-two count <= 2^20 */
} dsp_avg;

static void dsp_avg_init(dsp_avg *a, int32_t count, const ps_pool_params *pool)
{
    a->count = count;
    a->half = count / 2;
    a->k = ps_exact_log2(count);
    a->magic = 0;
    a->magic_shift = 32;
    if (a->k < 0 && count <= (INT32_C(1) << 20)) {
        /* ps_division_magic's m = floor(2^(31 + l) / count) + 1, l = ceil(log2 count), by
         * long division in 32 bits (no 64-bit division helper in the firmware) */
        int32_t l = 0;
        while ((INT32_C(1) << l) < count) {
            l++;
        }
        uint32_t quotient = 0, rest = 1; /* the leading 1 of 2^(31 + l) */
        for (int32_t bit = 0; bit < 31 + l; bit++) {
            rest <<= 1;
            quotient <<= 1;
            if (rest >= (uint32_t)count) {
                rest -= (uint32_t)count;
                quotient |= 1u;
            }
        }
        a->magic = quotient + 1u;
        a->magic_shift = 31 + l;
    }
    a->full = pool->act_min == -128 && pool->act_max == 127;
    a->simple = a->full && pool->rounding == PS_ROUND_TFLITE && a->k >= 0 &&
                count <= (INT32_C(1) << 20);
}

static int8_t dsp_average(int32_t sum, const dsp_avg *a, const ps_pool_params *pool)
{
    int32_t v;
    if (a->count > (INT32_C(1) << 20)) { /* |sum| + half could leave int32: the exact helper */
        return ps_pool_average(sum, a->count, pool);
    }
    if (pool->rounding == PS_ROUND_FLOOR) {
        v = dsp_asr(sum, a->k);
    } else if (pool->rounding == PS_ROUND_HALF_UP) {
        v = dsp_asr(sum + a->half, a->k);
    } else { /* half away from zero: sign(sum) * floor((|sum| + half) / count) */
        const uint32_t u = (uint32_t)(sum > 0 ? sum : -sum) + (uint32_t)a->half;
        const uint32_t m = a->k >= 0 ? u >> a->k
                                     : (uint32_t)(((uint64_t)u * a->magic) >> a->magic_shift);
        v = sum > 0 ? (int32_t)m : -(int32_t)m;
    }
    if (a->full) {
        return (int8_t)dsp_ssat8(v);
    }
    v = v < pool->act_min ? pool->act_min : v;
    return (int8_t)(v > pool->act_max ? pool->act_max : v);
}

/* ---- the path's state -------------------------------------------------------------------- */

/* A GEMM block: its pixels, the `count` (1..4) pixels first, first + 1, ... of the
 * row-major enumeration of a rectangle of conv pixels `w` wide from (y0, x0), image n (the
 * block's other pixels repeat the last one); and where their results go: bytes to
 * dst[p * stride + channel] (mode 0), their sum added to sums[channel] (mode 1), or for a
 * window of at most 4 pixels its average (avg) to out[channel] (mode 2). */
typedef struct {
    int32_t n, y0, x0, w, first, count;
    int32_t k0, k1; /* the receptive field elements of the column being built */
    int mode;
    int8_t *dst;
    int32_t stride;
    int32_t *sums;
    const ps_pool_params *pool;
    int8_t *out;
} dsp_block;

#define DSP_PIXELS 4 /* output pixels per GEMM block */

/* buf holds, for conv2d / pointwise / fully connected: the block column (per 4 taps, 8
 * words: (x0, x2), (x1, x3) - zp of each of the 4 pixels), a conv2d's gathered int8 bytes
 * of one pixel (and a spare word), and with a split receptive field the partial sums of nch
 * channels ([channel][pixel] int32); for depthwise: per quad of channels, three words per
 * tap (its byte offset in the input, its widened weights (w[c], w[c+2]), (w[c+1], w[c+3])),
 * the four biases and the four channels' requantization words. */
typedef struct {
    uint32_t buf[DSP_BUF_WORDS];
    dsp_rq rq;
    int32_t k;          /* taps per output channel: KH * KW * C_in */
    int32_t kq;         /* quads (4 taps) per column: of K, or of a chunk of it */
    int32_t nch;        /* output channels per prepared chunk (GEMM) */
    int32_t quad_words; /* depthwise: words per quad of channels (0: plain loops) */
    int split;          /* K is taken in chunks of 4 * kq taps */
    uint32_t off2;      /* -input_zp in both halfwords */
    uint32_t zp4;       /* input_zp in all four bytes: a padding tap */
    int32_t *acc;       /* split: partial sums, [channel][pixel] */
    union {
        dsp_block blk; /* GEMM: the block being computed */
        struct {
            int32_t taps[4]; /* a border pixel's valid taps [ky0, ky1) x [kx0, kx1) */
            int32_t sums[4]; /* a quad's sums */
        } dw;              /* depthwise */
    } u;
    dsp_avg avg;        /* the fused window's average */
} dsp_state;

/* ---- conv2d / pointwise / fully connected ----------------------------------------------- */

/* Copies n bytes, a word at a time. */
DSP_INLINE void dsp_copy(uint8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4, src += 4) {
        memcpy(dst, src, 4);
    }
    for (; n > 0; n--) {
        *dst++ = (uint8_t)*src++;
    }
}

/* n bytes of the padding value, a word at a time (zp4: it in all four bytes). */
DSP_INLINE void dsp_fill(uint8_t *dst, uint32_t zp4, int32_t n)
{
    for (; n >= 4; n -= 4, dst += 4) {
        memcpy(dst, &zp4, 4);
    }
    if (n > 0) {
        dst[0] = (uint8_t)zp4;
        if (n > 1) {
            dst[1] = (uint8_t)zp4;
            if (n > 2) {
                dst[2] = (uint8_t)zp4;
            }
        }
    }
}

/* Receptive field elements [k0, k1) of the pixel whose window starts at (iy0, ix0), in
 * (ky, kx, ic) order, as int8 bytes, then input_zp up to the next multiple of 4 (so that
 * padding taps and the tail widen to x - zp = 0): tap by tap (ky, kx walked without
 * divisions). The general case; dsp_conv_column copies whole kernel rows itself. */
static void dsp_gather(const ps_conv_op *op, const int8_t *image, int32_t iy0, int32_t ix0,
                             int32_t k0, int32_t k1, uint32_t zp4, uint8_t *raw)
{
    const int32_t c = op->in_c, kw = op->kernel_w;
    const int32_t dh = op->dilation_h, dw = op->dilation_w;
    const size_t row = (size_t)op->in_w * c;
    dsp_fill(raw + (k1 - k0), zp4, (4 - ((k1 - k0) & 3)) & 3);
    const int32_t t0 = k0 / c;
    int32_t kx = t0 % kw, iy = iy0 + (t0 / kw) * dh, ix = ix0 + kx * dw;
    for (int32_t at = t0 * c; at < k1; at += c) {
        const int32_t lo = at > k0 ? at : k0;
        const int32_t hi = at + c < k1 ? at + c : k1;
        if (iy < 0 || iy >= op->in_h || ix < 0 || ix >= op->in_w) {
            dsp_fill(raw + (lo - k0), zp4, hi - lo);
        } else {
            dsp_copy(raw + (lo - k0), image + (size_t)iy * row + (size_t)ix * c + (lo - at),
                     hi - lo);
        }
        if (++kx == kw) {
            kx = 0;
            ix = ix0;
            iy += dh;
        } else {
            ix += dw;
        }
    }
}

/* Widens n (a multiple of 4) int8 bytes at s to x - zp int16 lanes, one pixel's words of a
 * block column: per 4 taps (x0, x2), (x1, x3) at col[0], col[1], the next 4 taps a block
 * row (8 words) on. */
DSP_INLINE void dsp_widen(const uint8_t *s, int32_t n, uint32_t off2, uint32_t *col)
{
    for (; n >= 4; n -= 4, s += 4, col += 2 * DSP_PIXELS) {
        const uint32_t v = dsp_load32(s);
        col[0] = dsp_sxtab16(off2, v);
        col[1] = dsp_sxtab16_ror8(off2, v);
    }
}

/* The block's pixels in turn: p-th pixel's (y, x) from the previous one. */
DSP_INLINE void dsp_next_pixel(const dsp_block *b, int32_t p, int32_t *y, int32_t *x)
{
    if (p == 0) {
        *y = b->y0 + b->first / b->w;
        *x = b->x0 + b->first % b->w;
    } else if (p < b->count && ++*x == b->x0 + b->w) { /* past count: the last pixel again */
        *x = b->x0;
        ++*y;
    }
}

/* The block column of a 1x1 conv's pixels, receptive field elements [k0, k1): the input
 * pixels widened where they are. */
DSP_NOINLINE void dsp_pointwise_column(const ps_conv_op *op, dsp_state *st, int32_t k0, int32_t k1)
{
    const dsp_block *b = &st->u.blk;
    const uint8_t *image =
        (const uint8_t *)op->input + (size_t)b->n * op->in_h * op->in_w * op->in_c + k0;
    const int32_t len = k1 - k0, tail = len & 3;
    const int32_t pixels = b->count == 1 ? 1 : DSP_PIXELS; /* a lone pixel: dsp_mac11 */
    int32_t y = 0, x = 0;
    for (int32_t p = 0; p < pixels; p++) {
        dsp_next_pixel(b, p, &y, &x);
        const uint8_t *s = image + ((size_t)y * op->in_w + x) * op->in_c;
        uint32_t *col = st->buf + 2 * p;
        dsp_widen(s, len, st->off2, col);
        if (tail != 0) {
            const uint32_t v = dsp_load_partial(s + (len - tail), tail, st->zp4);
            col += 2 * DSP_PIXELS * (len >> 2);
            col[0] = dsp_sxtab16(st->off2, v);
            col[1] = dsp_sxtab16_ror8(st->off2, v);
        }
    }
}

/* One conv2d pixel's gathered bytes at raw (window at (iy0, ix0) of image), receptive field
 * elements [k0, k1), zp-padded to whole quads. A window inside the image (the whole receptive
 * field, no horizontal dilation) is kh runs of KW * C_in bytes, copied in whole words where
 * the input goes on for the last run's excess (which lands in the next run's place, in the
 * zp tail written after, or in the gather area's spare word); else dsp_gather. */
DSP_NOINLINE void dsp_conv_pixel(const ps_conv_op *op, const dsp_state *st, int32_t iy0,
                                 int32_t ix0)
{
    const int8_t *image = op->input + (size_t)st->u.blk.n * op->in_h * op->in_w * op->in_c;
    uint8_t *const raw = (uint8_t *)(st->buf + 2 * DSP_PIXELS * (size_t)st->kq);
    const int32_t k0 = st->u.blk.k0, k1 = st->u.blk.k1;
    const int32_t kh = op->kernel_h, run = op->kernel_w * op->in_c;
    const size_t row = (size_t)op->in_w * op->in_c;
    const int32_t span = (kh - 1) * op->dilation_h;
    if (k0 == 0 && k1 == st->k && op->dilation_w == 1 && iy0 >= 0 && ix0 >= 0 &&
        iy0 + span < op->in_h && ix0 + op->kernel_w - 1 < op->in_w) {
        const int8_t *src = image + (size_t)iy0 * row + (size_t)ix0 * op->in_c;
        const int8_t *last = src + (size_t)span * row;
        const int8_t *end = op->input + (size_t)op->batch * op->in_h * row;
        if ((size_t)(end - last) >= (size_t)run + 3) {
            const size_t drow = (size_t)op->dilation_h * row;
            uint8_t *d = raw;
            for (int32_t ky = 0; ky < kh; ky++, src += drow, d += run) {
                for (int32_t i = 0; i < run; i += 4) {
                    memcpy(d + i, src + i, 4);
                }
            }
            dsp_fill(raw + k1, st->zp4, (4 - (k1 & 3)) & 3);
            return;
        }
    }
    dsp_gather(op, image, iy0, ix0, k0, k1, st->zp4, raw);
}

/* The block column of a conv2d's pixels, receptive field elements [k0, k1): each pixel's
 * bytes gathered (padding taps as input_zp), then widened. */
DSP_NOINLINE void dsp_conv_column(const ps_conv_op *op, dsp_state *st, int32_t k0, int32_t k1)
{
    const dsp_block *b = &st->u.blk;
    const int32_t pixels = b->count == 1 ? 1 : DSP_PIXELS; /* a lone pixel: dsp_mac11 */
    int32_t y = 0, x = 0;
    st->u.blk.k0 = k0;
    st->u.blk.k1 = k1;
    for (int32_t p = 0; p < pixels; p++) {
        dsp_next_pixel(b, p, &y, &x);
        dsp_conv_pixel(op, st, y * op->stride_h - op->pad_top, x * op->stride_w - op->pad_left);
        dsp_widen((const uint8_t *)(st->buf + 2 * DSP_PIXELS * (size_t)st->kq),
                  (k1 - k0 + 3) & ~3, st->off2, st->buf + 2 * p);
    }
}

/* The block column of the block's pixels (st->u.blk), receptive field elements [k0, k1): per
 * 4 taps, each pixel's (x0, x2), (x1, x3) - zp (SXTB16's lane order for the weights). */
static void dsp_block_column(const ps_conv_op *op, dsp_state *st, int32_t k0, int32_t k1)
{
    if (op->kind == PS_KIND_POINTWISE) {
        dsp_pointwise_column(op, st, k0, k1);
    } else {
        dsp_conv_column(op, st, k0, k1);
    }
}

/* 1 channel x 4 pixels: a_p += block column pixel p . filter row w over len taps (the
 * row starts `back` bytes before w: a tail of len % 4 taps is read as the 32-bit word
 * ending the row, shifted, when back + len >= 4). */
DSP_INLINE void dsp_mac14(const int8_t *w, int32_t len, int32_t back, const uint32_t *col,
                          int32_t *a)
{
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
    const uint32_t *end = col + 2 * DSP_PIXELS * (len >> 2);
    while (col < end) {
        const uint32_t v = dsp_load32(w);
        w += 4;
        const uint32_t we = dsp_sxtb16(v), wo = dsp_sxtb16_ror8(v);
        uint32_t x0, x1, x2, x3;
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a0 = dsp_smlad(we, x0, a0);
        a0 = dsp_smlad(wo, x1, a0);
        a1 = dsp_smlad(we, x2, a1);
        a1 = dsp_smlad(wo, x3, a1);
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a2 = dsp_smlad(we, x0, a2);
        a2 = dsp_smlad(wo, x1, a2);
        a3 = dsp_smlad(we, x2, a3);
        a3 = dsp_smlad(wo, x3, a3);
    }
    const int32_t r = len & 3;
    uint32_t x0, x1, x2, x3;
    if (r == 1) { /* one tap left: lane 0 of each pixel's even word, SMLABB */
        const uint32_t v = (uint32_t)(int32_t)w[0];
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a0 = dsp_smlabb(x0, v, a0);
        a1 = dsp_smlabb(x2, v, a1);
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a2 = dsp_smlabb(x0, v, a2);
        a3 = dsp_smlabb(x2, v, a3);
    } else if (r != 0) {
        const uint32_t v = back + len >= 4 ? dsp_load32(w + r - 4) >> (32 - 8 * r)
                                           : dsp_load_partial(w, r, 0);
        const uint32_t we = dsp_sxtb16(v), wo = dsp_sxtb16_ror8(v);
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a0 = dsp_smlad(wo, x1, dsp_smlad(we, x0, a0));
        a1 = dsp_smlad(wo, x3, dsp_smlad(we, x2, a1));
        dsp_ldm4(&col, &x0, &x1, &x2, &x3);
        a2 = dsp_smlad(wo, x1, dsp_smlad(we, x0, a2));
        a3 = dsp_smlad(wo, x3, dsp_smlad(we, x2, a3));
    }
    a[0] = a0;
    a[1] = a1;
    a[2] = a2;
    a[3] = a3;
}

/* Every prepared channel of the block column into the sink. fast / full / hot are
 * constants where the hot cases are inlined (hot: mode `hot` with all 4 pixels; -1: any). */
DSP_INLINE void dsp_gemm_channels(const ps_conv_exec *ex, const int fast, const int full,
                                  const int hot)
{
    const ps_conv_op *op = ex->op;
    const dsp_state *st = (const dsp_state *)ex->state;
    const dsp_rq *r = &st->rq;
    const dsp_block *sink = &st->u.blk;
    const int32_t k = st->k, oc0 = ex->oc0, cc = ex->oc1 - oc0, zp = r->zp;
    const int32_t pixels = hot >= 0 ? DSP_PIXELS : sink->count;
    const int32_t mode = hot >= 0 ? hot : sink->mode;
    const int simple = hot == 2 ? 1 : st->avg.simple; /* hot mode 2: a simple average */
    const int8_t *w = op->filter + (size_t)oc0 * k;
    const int32_t *bias = op->bias;
    for (int32_t j = 0; j < cc; j++, w += k) {
        int32_t a[4];
        a[0] = a[1] = a[2] = a[3] = bias != NULL ? bias[oc0 + j] : 0;
        dsp_mac14(w, k, 0, st->buf, a);
        const dsp_ch ch = dsp_ch_at(op->quant, oc0 + j);
        const int32_t v0 = dsp_out(a[0], &ch, oc0 + j, r, zp, fast, full);
        const int32_t v1 = dsp_out(a[1], &ch, oc0 + j, r, zp, fast, full);
        const int32_t v2 = dsp_out(a[2], &ch, oc0 + j, r, zp, fast, full);
        const int32_t v3 = dsp_out(a[3], &ch, oc0 + j, r, zp, fast, full);
        if (mode == 0) {
            int8_t *d = sink->dst + j;
            const int32_t s = sink->stride;
            d[0] = (int8_t)v0;
            if (pixels == DSP_PIXELS) {
                d[s] = (int8_t)v1;
                d[2 * s] = (int8_t)v2;
                d[3 * s] = (int8_t)v3;
            } else if (pixels > 1) {
                d[s] = (int8_t)v1;
                if (pixels > 2) {
                    d[2 * s] = (int8_t)v2;
                }
            }
            continue;
        }
        /* past `pixels`, the block repeats its last pixel: drop those */
        const int32_t sum =
            pixels == DSP_PIXELS
                ? v0 + v1 + v2 + v3
                : v0 + (pixels > 1 ? v1 : 0) + (pixels > 2 ? v2 : 0);
        if (mode == 1) {
            sink->sums[j] += sum;
        } else if (simple) { /* "tflite" rounding by a shift, the int8 range */
            const uint32_t u = (uint32_t)(sum > 0 ? sum : -sum) + (uint32_t)st->avg.half;
            const int32_t m = (int32_t)(u >> st->avg.k);
            sink->out[j] = (int8_t)dsp_ssat8(sum > 0 ? m : -m);
        } else {
            sink->out[j] = dsp_average(sum, &st->avg, sink->pool);
        }
    }
}

/* The block column (built) for every prepared channel. */
static void dsp_gemm_block(const ps_conv_exec *ex)
{
    const dsp_state *st = (const dsp_state *)ex->state;
#if defined(__OPTIMIZE_SIZE__)
    dsp_gemm_channels(ex, st->rq.fast, st->rq.full, -1); /* -Os: one copy of the loop */
#else
    if (!st->rq.fast || !st->rq.full) {
        dsp_gemm_channels(ex, st->rq.fast, st->rq.full, -1);
    } else if (st->u.blk.count != DSP_PIXELS || st->u.blk.mode == 1 ||
               (st->u.blk.mode == 2 && !st->avg.simple)) {
        dsp_gemm_channels(ex, 1, 1, -1);
    } else if (st->u.blk.mode == 0) {
        dsp_gemm_channels(ex, 1, 1, 0); /* 4 pixels stored */
    } else {
        dsp_gemm_channels(ex, 1, 1, 2); /* a 4-pixel window, averaged by a shift */
    }
#endif
}

/* 1 channel x 1 pixel (pixel 0 of the block column): a lone pixel, e.g. a fully connected
 * layer's single row, without the block's three repeats. */
DSP_INLINE int32_t dsp_mac11(const int8_t *w, int32_t len, int32_t back, const uint32_t *col,
                             int32_t a)
{
    const uint32_t *end = col + 2 * DSP_PIXELS * (len >> 2);
    for (; col < end; col += 2 * DSP_PIXELS, w += 4) {
        const uint32_t v = dsp_load32(w);
        a = dsp_smlad(dsp_sxtb16(v), col[0], a);
        a = dsp_smlad(dsp_sxtb16_ror8(v), col[1], a);
    }
    const int32_t r = len & 3;
    if (r != 0) {
        const uint32_t v = back + len >= 4 ? dsp_load32(w + r - 4) >> (32 - 8 * r)
                                           : dsp_load_partial(w, r, 0);
        a = dsp_smlad(dsp_sxtb16(v), col[0], a);
        a = dsp_smlad(dsp_sxtb16_ror8(v), col[1], a);
    }
    return a;
}

DSP_NOINLINE void dsp_gemm_single(const ps_conv_exec *ex)
{
    const ps_conv_op *op = ex->op;
    const dsp_state *st = (const dsp_state *)ex->state;
    const dsp_rq *r = &st->rq;
    const dsp_block *b = &st->u.blk;
    const int32_t k = st->k, oc0 = ex->oc0, cc = ex->oc1 - oc0;
    const int8_t *w = op->filter + (size_t)oc0 * k;
    for (int32_t j = 0; j < cc; j++, w += k) {
        const int32_t acc = dsp_mac11(w, k, 0, st->buf, op->bias != NULL ? op->bias[oc0 + j] : 0);
        const dsp_ch ch = dsp_ch_at(op->quant, oc0 + j);
        const int32_t v = dsp_out(acc, &ch, oc0 + j, r, r->zp, r->fast, r->full);
        if (b->mode == 0) {
            b->dst[j] = (int8_t)v;
        } else if (b->mode == 1) {
            b->sums[j] += v;
        } else {
            b->out[j] = dsp_average(v, &st->avg, b->pool);
        }
    }
}

/* A receptive field longer than the buffer's column is taken in chunks, the prepared
 * channels' partial sums in buf ([channel][pixel]). */
static void dsp_split_mac(const ps_conv_exec *ex, int32_t k0, int32_t k1)
{
    const dsp_state *st = (const dsp_state *)ex->state;
    const int32_t k = st->k, cc = ex->oc1 - ex->oc0;
    const int8_t *w = ex->op->filter + (size_t)ex->oc0 * k + k0;
    for (int32_t j = 0; j < cc; j++, w += k) {
        int32_t *a = st->acc + DSP_PIXELS * j;
        if (st->u.blk.count == 1) {
            a[0] = dsp_mac11(w, k1 - k0, k0, st->buf, a[0]);
        } else {
            dsp_mac14(w, k1 - k0, k0, st->buf, a);
        }
    }
}

DSP_INLINE void dsp_split_out(const ps_conv_exec *ex, const int fast, const int full)
{
    const dsp_state *st = (const dsp_state *)ex->state;
    const dsp_block *sink = &st->u.blk;
    const dsp_rq *r = &st->rq;
    const int32_t cc = ex->oc1 - ex->oc0, zp = r->zp;
    for (int32_t j = 0; j < cc; j++) {
        const dsp_ch ch = dsp_ch_at(ex->op->quant, ex->oc0 + j);
        int32_t sum = 0;
        for (int32_t p = 0; p < sink->count; p++) {
            const int32_t v = dsp_out(st->acc[DSP_PIXELS * j + p], &ch, ex->oc0 + j, r, zp, fast,
                                      full);
            if (sink->mode == 0) {
                sink->dst[p * sink->stride + j] = (int8_t)v;
            }
            sum += v;
        }
        if (sink->mode == 1) {
            sink->sums[j] += sum;
        } else if (sink->mode == 2) {
            sink->out[j] = dsp_average(sum, &st->avg, sink->pool);
        }
    }
}

static void dsp_split_finish(const ps_conv_exec *ex)
{
    const dsp_state *st = (const dsp_state *)ex->state;
    if (st->rq.fast && st->rq.full) {
        dsp_split_out(ex, 1, 1);
    } else {
        dsp_split_out(ex, st->rq.fast, st->rq.full);
    }
}

/* The block (st->u.blk) for every prepared channel: column, then channels, as sibling
 * calls (a shallow stack). */
DSP_INLINE void dsp_gemm_pixels(const ps_conv_exec *ex)
{
    dsp_state *st = (dsp_state *)ex->state;
    if (!st->split) {
        dsp_block_column(ex->op, st, 0, st->k);
        if (st->u.blk.count == 1) {
            dsp_gemm_single(ex);
        } else {
            dsp_gemm_block(ex);
        }
        return;
    }
    const int32_t chunk = 4 * st->kq, cc = ex->oc1 - ex->oc0;
    for (int32_t j = 0; j < cc; j++) {
        const int32_t bias = ex->op->bias != NULL ? ex->op->bias[ex->oc0 + j] : 0;
        for (int32_t p = 0; p < DSP_PIXELS; p++) {
            st->acc[DSP_PIXELS * j + p] = bias;
        }
    }
    for (int32_t k0 = 0; k0 < st->k; k0 += chunk) {
        const int32_t k1 = st->k - k0 < chunk ? st->k : k0 + chunk;
        dsp_block_column(ex->op, st, k0, k1);
        dsp_split_mac(ex, k0, k1);
    }
    dsp_split_finish(ex);
}

static void dsp_gemm_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                         int8_t *dst, int32_t dst_stride)
{
    dsp_block *b = &((dsp_state *)ex->state)->u.blk;
    b->n = n;
    b->y0 = oy;
    b->x0 = ox0;
    b->w = ox1 - ox0;
    b->mode = 0;
    b->dst = dst;
    b->stride = dst_stride;
    for (b->first = 0; b->first < b->w; b->first += DSP_PIXELS) {
        b->count = b->w - b->first < DSP_PIXELS ? b->w - b->first : DSP_PIXELS;
        dsp_gemm_pixels(ex);
        b->dst += DSP_PIXELS * (size_t)dst_stride;
    }
}

/* Channels [oc0, oc0 + nch): all of them, but for a split receptive field's partial sums. */
static int32_t dsp_gemm_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const dsp_state *st = (const dsp_state *)ex->state;
    const int32_t c_out = ex->op->out_c;
    ex->oc0 = oc0;
    ex->oc1 = c_out - oc0 <= st->nch ? c_out : oc0 + st->nch;
    return ex->oc1;
}

/* ps_conv_exec.pooled_row: each window's pixels four at a time (across its rows); a window
 * of at most 4 pixels is averaged straight from registers, a larger one through sums. */
static void dsp_gemm_pooled_row(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                                const ps_pool_params *pool, int32_t pooled_w, int8_t *tile,
                                int32_t *sums, int8_t *out, int32_t out_stride)
{
    dsp_state *st = (dsp_state *)ex->state;
    dsp_block *b = &st->u.blk;
    const int32_t cc = ex->oc1 - ex->oc0;
    (void)tile; /* the results go straight into the window sums */
    st->avg.count = 0; /* set up by the first window */
    b->n = n;
    b->y0 = y0;
    b->sums = sums;
    b->pool = pool;
    for (int32_t px = 0; px < pooled_w; px++, out += out_stride) {
        int32_t x0, x1;
        ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, ex->op->out_w, &x0, &x1);
        const int32_t pixels = (y1 - y0) * (x1 - x0);
        if (pixels != st->avg.count) {
            dsp_avg_init(&st->avg, pixels, pool);
        }
        b->x0 = x0;
        b->w = x1 - x0;
        b->out = out;
        b->mode = pixels <= DSP_PIXELS ? 2 : 1;
        if (b->mode == 1) {
            for (int32_t c = 0; c < cc; c++) {
                sums[c] = 0;
            }
        }
        for (b->first = 0; b->first < pixels; b->first += DSP_PIXELS) {
            b->count = pixels - b->first < DSP_PIXELS ? pixels - b->first : DSP_PIXELS;
            dsp_gemm_pixels(ex);
        }
        if (b->mode == 1) {
            for (int32_t c = 0; c < cc; c++) {
                out[c] = dsp_average(sums[c], &st->avg, pool);
            }
        }
    }
}

/* ps_conv_exec.ring_window (overlapping fused pools): the window's int8 values summed four
 * channels at a time in int16 lanes (SXTAB16; a window of at most 256 values cannot leave
 * int16), then ps_pool_average_run. */
static void dsp_ring_window(const int8_t *ring, size_t row_bytes, int32_t pool_h, int32_t y0,
                            int32_t y1, int32_t x0, int32_t x1, int32_t cc,
                            const ps_pool_params *pool, int32_t *sums, int8_t *out)
{
    const int32_t count = (y1 - y0) * (x1 - x0);
    if (count > 256) {
        for (int32_t c = 0; c < cc; c++) {
            sums[c] = 0;
        }
        for (int32_t y = y0; y < y1; y++) {
            const int8_t *p = ring + (size_t)(y % pool_h) * row_bytes + (size_t)x0 * cc;
            for (int32_t x = x0; x < x1; x++, p += cc) {
                for (int32_t c = 0; c < cc; c++) {
                    sums[c] += p[c];
                }
            }
        }
    } else {
        for (int32_t c = 0; c < cc; c += 4) {
            const int32_t lanes = cc - c < 4 ? cc - c : 4;
            uint32_t s02 = 0, s13 = 0;
            for (int32_t y = y0; y < y1; y++) {
                const int8_t *p = ring + (size_t)(y % pool_h) * row_bytes + (size_t)x0 * cc + c;
                for (int32_t x = x0; x < x1; x++, p += cc) {
                    const uint32_t v = lanes == 4 ? dsp_load32(p) : dsp_load_partial(p, lanes, 0);
                    s02 = dsp_sxtab16(s02, v);
                    s13 = dsp_sxtab16_ror8(s13, v);
                }
            }
            const int32_t s[4] = {dsp_lo16(s02), dsp_lo16(s13), dsp_lo16(s02 >> 16),
                                  dsp_lo16(s13 >> 16)};
            for (int32_t j = 0; j < lanes; j++) {
                sums[c + j] = s[j];
            }
        }
    }
    ps_pool_average_run(sums, count, cc, pool, out);
}

/* ---- depthwise --------------------------------------------------------------------------- */

/* Per quad of channels: three words per tap (its byte offset from the window's first tap,
 * its widened weights (w[c], w[c+2]), (w[c+1], w[c+3]), 0 past the last channel), then the
 * four biases, then each channel's multiplier, 2^(e - 2) and e - 1 (dsp_param). */
#define DSP_DW_QUAD_WORDS(taps) (3 * (taps) + 16)

/* Channels [oc0, oc0 + nch) (whole quads, the last may be partial) into buf. */
static int32_t dsp_dw_prepare(ps_conv_exec *ex, int32_t oc0)
{
    const ps_conv_op *op = ex->op;
    dsp_state *st = (dsp_state *)ex->state;
    const int32_t c_out = op->out_c;
    ex->oc0 = oc0;
    ex->oc1 = c_out - oc0 <= st->nch ? c_out : oc0 + st->nch;
    if (st->quad_words == 0) {
        return ex->oc1;
    }
    const int32_t taps = op->kernel_h * op->kernel_w;
    for (int32_t c0 = oc0; c0 < ex->oc1; c0 += 4) {
        uint32_t *words = st->buf + (size_t)(c0 - oc0) / 4 * st->quad_words;
        for (int32_t t = 0; t < taps; t++) {
            int32_t w[4];
            for (int32_t j = 0; j < 4; j++) {
                w[j] = c0 + j < ex->oc1 ? op->filter[(size_t)t * c_out + c0 + j] : 0;
            }
            const int32_t ky = t / op->kernel_w, kx = t % op->kernel_w;
            words[3 * t] = (uint32_t)(((size_t)ky * op->dilation_h * op->in_w +
                                       (size_t)kx * op->dilation_w) * op->in_c);
            words[3 * t + 1] = ((uint32_t)w[0] & 0xFFFFu) | ((uint32_t)w[2] << 16);
            words[3 * t + 2] = ((uint32_t)w[1] & 0xFFFFu) | ((uint32_t)w[3] << 16);
        }
        uint32_t *rec = words + 3 * taps;
        for (int32_t j = 0; j < 4; j++) {
            uint32_t p[DSP_P_WORDS] = {0, 0, 0};
            if (c0 + j < ex->oc1) {
                dsp_param(p, op, c0 + j);
            }
            rec[j] = p[DSP_P_BIAS];
            rec[4 + 3 * j] = p[DSP_P_MULT];
            rec[5 + 3 * j] = p[DSP_P_CHI];
            rec[6 + 3 * j] = p[DSP_P_CHI] != 0 ? dsp_e1(p[DSP_P_CHI]) : 0;
        }
    }
    return ex->oc1;
}

/* Four channels of an inside pixel (every tap valid), fast requantization, int8 range: the
 * biases, a triple per tap, four outputs. */
DSP_INLINE void dsp_dw_quad(const int8_t *x, const uint32_t *t, int32_t taps, uint32_t off2,
                            int32_t zp, int8_t *d)
{
    const uint32_t *end = t + 3 * taps;
    uint32_t b0, b1, b2, b3;
    const uint32_t *rec = end;
    dsp_ldm4(&rec, &b0, &b1, &b2, &b3);
    int32_t a0 = (int32_t)b0, a1 = (int32_t)b1, a2 = (int32_t)b2, a3 = (int32_t)b3;
    uint32_t at, w02, w13, v, e, o;
    if ((taps & 1) != 0) { /* an odd tap first, then two per iteration */
        dsp_ldm3(&t, &at, &w02, &w13);
        v = dsp_load32(x + at);
        e = dsp_sxtab16(off2, v);
        o = dsp_sxtab16_ror8(off2, v);
        a0 = dsp_smlabb(e, w02, a0);
        a2 = dsp_smlatt(e, w02, a2);
        a1 = dsp_smlabb(o, w13, a1);
        a3 = dsp_smlatt(o, w13, a3);
    }
    while (t < end) {
        dsp_ldm3(&t, &at, &w02, &w13);
        v = dsp_load32(x + at);
        e = dsp_sxtab16(off2, v);
        o = dsp_sxtab16_ror8(off2, v);
        a0 = dsp_smlabb(e, w02, a0);
        a2 = dsp_smlatt(e, w02, a2);
        a1 = dsp_smlabb(o, w13, a1);
        a3 = dsp_smlatt(o, w13, a3);
        dsp_ldm3(&t, &at, &w02, &w13);
        v = dsp_load32(x + at);
        e = dsp_sxtab16(off2, v);
        o = dsp_sxtab16_ror8(off2, v);
        a0 = dsp_smlabb(e, w02, a0);
        a2 = dsp_smlatt(e, w02, a2);
        a1 = dsp_smlabb(o, w13, a1);
        a3 = dsp_smlatt(o, w13, a3);
    }
    uint32_t m, chi, e1;
    dsp_ldm3(&rec, &m, &chi, &e1);
    d[0] = (int8_t)dsp_ssat8(dsp_rq_fast(a0, m, chi, e1) + zp);
    dsp_ldm3(&rec, &m, &chi, &e1);
    d[1] = (int8_t)dsp_ssat8(dsp_rq_fast(a1, m, chi, e1) + zp);
    dsp_ldm3(&rec, &m, &chi, &e1);
    d[2] = (int8_t)dsp_ssat8(dsp_rq_fast(a2, m, chi, e1) + zp);
    dsp_ldm3(&rec, &m, &chi, &e1);
    d[3] = (int8_t)dsp_ssat8(dsp_rq_fast(a3, m, chi, e1) + zp);
}

/* Any pixel of the prepared channels: the taps in st->u.dw.taps' rectangle, partial quads, any
 * requantization. x: the window's first valid tap, channel oc0. */
DSP_NOINLINE void dsp_dw_pixel(const ps_conv_exec *ex, const int8_t *x, int8_t *d)
{
    const ps_conv_op *op = ex->op;
    dsp_state *st = (dsp_state *)ex->state;
    const int32_t kw = op->kernel_w, taps = op->kernel_h * kw;
    const int32_t rows = st->u.dw.taps[1] - st->u.dw.taps[0];
    const int32_t cols = st->u.dw.taps[3] - st->u.dw.taps[2];
    const size_t xstep = (size_t)op->dilation_w * op->in_c;
    const size_t ystep = (size_t)op->dilation_h * op->in_w * op->in_c;
    const uint32_t *tab = st->buf;
    for (int32_t c = ex->oc0; c < ex->oc1; c += 4, tab += st->quad_words, x += 4, d += 4) {
        const int32_t lanes = ex->oc1 - c < 4 ? ex->oc1 - c : 4;
        const uint32_t *rec = tab + 3 * taps;
        int32_t a0 = (int32_t)rec[0], a1 = (int32_t)rec[1], a2 = (int32_t)rec[2],
                a3 = (int32_t)rec[3];
        const int8_t *xr = x;
        const uint32_t *tr = tab + 3 * (st->u.dw.taps[0] * kw + st->u.dw.taps[2]);
        for (int32_t r = 0; r < rows; r++, xr += ystep, tr += 3 * kw) {
            const int8_t *xp = xr;
            const uint32_t *t = tr;
            for (int32_t k = 0; k < cols; k++, xp += xstep, t += 3) {
                const uint32_t v = lanes == 4 ? dsp_load32(xp) : dsp_load_partial(xp, lanes, 0);
                const uint32_t e = dsp_sxtab16(st->off2, v), o = dsp_sxtab16_ror8(st->off2, v);
                a0 = dsp_smlabb(e, t[1], a0);
                a2 = dsp_smlatt(e, t[1], a2);
                a1 = dsp_smlabb(o, t[2], a1);
                a3 = dsp_smlatt(o, t[2], a3);
            }
        }
        if (lanes == 4 && st->rq.fast && st->rq.full) {
            const uint32_t *r = rec + 4;
            uint32_t m, chi, e1;
            const int32_t zp = st->rq.zp;
            dsp_ldm3(&r, &m, &chi, &e1);
            d[0] = (int8_t)dsp_ssat8(dsp_rq_fast(a0, m, chi, e1) + zp);
            dsp_ldm3(&r, &m, &chi, &e1);
            d[1] = (int8_t)dsp_ssat8(dsp_rq_fast(a1, m, chi, e1) + zp);
            dsp_ldm3(&r, &m, &chi, &e1);
            d[2] = (int8_t)dsp_ssat8(dsp_rq_fast(a2, m, chi, e1) + zp);
            dsp_ldm3(&r, &m, &chi, &e1);
            d[3] = (int8_t)dsp_ssat8(dsp_rq_fast(a3, m, chi, e1) + zp);
            continue;
        }
        st->u.dw.sums[0] = a0;
        st->u.dw.sums[1] = a1;
        st->u.dw.sums[2] = a2;
        st->u.dw.sums[3] = a3;
        for (int32_t j = 0; j < lanes; j++) {
            const dsp_ch ch = {rec[4 + 3 * j], rec[5 + 3 * j], rec[6 + 3 * j]};
            d[j] = (int8_t)dsp_out(st->u.dw.sums[j], &ch, c + j, &st->rq, st->rq.zp, st->rq.fast,
                                   st->rq.full);
        }
    }
}

/* `count` consecutive output pixels whose taps are all inside, the first's window at x
 * (channel oc0), each next `step` bytes on; whole quads, fast requantization, int8 range. */
DSP_NOINLINE void dsp_dw_run(const ps_conv_exec *ex, const int8_t *x, size_t step, int32_t count,
                             int8_t *dst, int32_t dst_stride)
{
    const dsp_state *st = (const dsp_state *)ex->state;
    const int32_t taps = ex->op->kernel_h * ex->op->kernel_w, qw = st->quad_words;
    const int32_t quads = (ex->oc1 - ex->oc0) / 4, zp = st->rq.zp;
    const uint32_t off2 = st->off2;
    for (; count > 0; count--, x += step, dst += dst_stride) {
        const uint32_t *tab = st->buf;
        const int8_t *xq = x;
        int8_t *d = dst;
        for (int32_t q = 0; q < quads; q++, tab += qw, xq += 4, d += 4) {
            dsp_dw_quad(xq, tab, taps, off2, zp, d);
        }
    }
}

/* The input index range of a kernel axis, [lo, hi): kernel taps o + k * d inside [0, in). */
DSP_INLINE int32_t dsp_tap_lo(int32_t o, int32_t d)
{
    return o < 0 ? -o / d + (-o % d != 0) : 0;
}

DSP_INLINE int32_t dsp_tap_hi(int32_t o, int32_t d, int32_t kernel, int32_t in)
{
    return o + (kernel - 1) * d < in ? kernel : in - 1 - o < 0 ? 0 : (in - 1 - o) / d + 1;
}

static void dsp_dw_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                              int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    dsp_state *st = (dsp_state *)ex->state;
    const int32_t c_in = op->in_c, kw = op->kernel_w;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c_in + ex->oc0;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    const int32_t ky0 = dsp_tap_lo(iy0, op->dilation_h);
    const int32_t ky1 = dsp_tap_hi(iy0, op->dilation_h, op->kernel_h, op->in_h);
    /* runs of pixels for dsp_dw_run: whole quads, every tap inside, fast requantization */
    const int runs = st->rq.fast && st->rq.full && (ex->oc1 - ex->oc0) % 4 == 0 && ky0 == 0 &&
                     ky1 == op->kernel_h;
    const int8_t *row = ky1 > ky0 ? image + (size_t)(iy0 + ky0 * op->dilation_h) * op->in_w * c_in
                                  : image;
    const size_t step = (size_t)op->stride_w * c_in;
    for (int32_t ox = ox0; ox < ox1;) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        if (runs && ix0 >= 0 && ix0 + (kw - 1) * op->dilation_w < op->in_w) {
            /* the run's last pixel: the last whose window ends inside (windows only move right) */
            int32_t last = ox;
            const int32_t reach = (kw - 1) * op->dilation_w - op->pad_left;
            while (last + 1 < ox1 && (last + 1) * op->stride_w + reach < op->in_w) {
                last++;
            }
            dsp_dw_run(ex, row + (size_t)ix0 * c_in, step, last - ox + 1,
                       dst + (size_t)(ox - ox0) * dst_stride, dst_stride);
            ox = last + 1;
            continue;
        }
        const int32_t kx0 = dsp_tap_lo(ix0, op->dilation_w);
        const int32_t kx1 = dsp_tap_hi(ix0, op->dilation_w, kw, op->in_w);
        const int any = ky1 > ky0 && kx1 > kx0; /* else the biases alone */
        st->u.dw.taps[0] = ky0;
        st->u.dw.taps[1] = any ? ky1 : ky0;
        st->u.dw.taps[2] = kx0;
        st->u.dw.taps[3] = any ? kx1 : kx0;
        dsp_dw_pixel(ex, any ? row + (size_t)(ix0 + kx0 * op->dilation_w) * c_in : image,
                     dst + (size_t)(ox - ox0) * dst_stride);
        ox++;
    }
}

/* Depth multipliers > 1, or kernels whose packed weights do not fit: plain loops over the
 * valid taps, per input channel its `mult` output channels (the fast requantization where
 * the call allows it). */
static void dsp_dw_row_plain(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                                   int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const dsp_state *st = (const dsp_state *)ex->state;
    const dsp_rq *r = &st->rq;
    const int32_t c_in = op->in_c, c_out = op->out_c, mult = op->depth_multiplier;
    const int32_t zp = op->quant->input_zp;
    const size_t xstep = (size_t)op->dilation_w * c_in;
    const size_t ystep = (size_t)op->dilation_h * op->in_w * c_in;
    const size_t wstep = (size_t)op->kernel_w * c_out;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * c_in;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    const int32_t ky0 = dsp_tap_lo(iy0, op->dilation_h);
    const int32_t ky1 = dsp_tap_hi(iy0, op->dilation_h, op->kernel_h, op->in_h);
    for (int32_t ox = ox0; ox < ox1; ox++, dst += dst_stride) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        const int32_t kx0 = dsp_tap_lo(ix0, op->dilation_w);
        const int32_t kx1 = dsp_tap_hi(ix0, op->dilation_w, op->kernel_w, op->in_w);
        const int any = ky1 > ky0 && kx1 > kx0;
        const int8_t *x0 = any ? image + ((size_t)(iy0 + ky0 * op->dilation_h) * op->in_w +
                                          (size_t)(ix0 + kx0 * op->dilation_w)) * c_in
                               : image;
        const int8_t *w0 = op->filter + ((size_t)ky0 * op->kernel_w + kx0) * c_out;
        for (int32_t ic = 0, oc = 0; ic < c_in; ic++) {
            for (int32_t m = 0; m < mult; m++, oc++) {
                int32_t acc = op->bias != NULL ? op->bias[oc] : 0;
                const int8_t *xr = x0 + ic, *wr = w0 + oc;
                for (int32_t ky = ky0; any && ky < ky1; ky++, xr += ystep, wr += wstep) {
                    const int8_t *xp = xr, *wp = wr;
                    for (int32_t kx = kx0; kx < kx1; kx++, xp += xstep, wp += c_out) {
                        acc += ((int32_t)*xp - zp) * *wp;
                    }
                }
                const dsp_ch ch = dsp_ch_at(op->quant, oc);
                dst[oc] = (int8_t)dsp_out(acc, &ch, oc, r, r->zp, r->fast, r->full);
            }
        }
    }
}

/* ---- the path's run function --------------------------------------------------------------- */

/* How the GEMM ops use buf: one block column of the whole receptive field (kq quads: 8 kq
 * words, and for a conv2d kq + 1 more for a pixel's gathered bytes), every channel at once;
 * or, when that does not fit, the receptive field in chunks of kq quads and the channels in
 * chunks of nch, whose partial sums (4 nch int32) follow the column. */
static void dsp_gemm_layout(const ps_conv_op *op, dsp_state *st)
{
    const int32_t quads = (st->k + 3) / 4; /* K < 2^31: no overflow */
    const int conv = op->kind != PS_KIND_POINTWISE;
    const int32_t per_quad = 2 * DSP_PIXELS + conv; /* the column, and a conv2d's bytes */
    const int32_t c_out = op->out_c;
    st->split = quads > (DSP_BUF_WORDS - conv) / per_quad; /* conv: dsp_gather's spare word */
    if (!st->split) {
        st->kq = quads;
        st->nch = c_out;
    } else {
        st->nch = c_out < DSP_SPLIT_CHANNELS ? c_out : DSP_SPLIT_CHANNELS;
        st->kq = (DSP_BUF_WORDS - DSP_PIXELS * st->nch) / per_quad;
    }
    st->acc = (int32_t *)(st->buf + (size_t)per_quad * st->kq);
}

void ps_conv_run_dsp(const ps_conv_op *op, const ps_conv_job *job)
{
    dsp_state st;
    const ps_quant_params *q = op->quant;
    const uint32_t off = (uint32_t)(-q->input_zp) & 0xFFFFu;
    const uint32_t zp = (uint32_t)q->input_zp & 0xFFu;
    st.off2 = off | (off << 16);
    st.zp4 = zp * 0x01010101u;
    st.rq.q = q;
    st.rq.zp = q->output_zp;
    st.rq.fast = dsp_fast_quant(q, op->out_c);
    st.rq.full = q->act_min == -128 && q->act_max == 127;
    st.k = op->kernel_h * op->kernel_w * op->in_c;
    st.kq = st.nch = st.quad_words = st.split = 0;
    st.acc = (int32_t *)st.buf;
    ps_conv_exec ex;
    ex.op = op;
    ex.ring_window = dsp_ring_window;
    ex.ring_row = NULL;
    ex.oc0 = ex.oc1 = 0;
    ex.state = &st;
    if (op->kind == PS_KIND_DEPTHWISE) {
        const int32_t taps = op->kernel_h * op->kernel_w;
        st.nch = op->out_c; /* plain loops: every channel at once */
        if (op->depth_multiplier == 1 && taps <= (DSP_BUF_WORDS - DSP_DW_QUAD_WORDS(0)) / 3) {
            st.quad_words = DSP_DW_QUAD_WORDS(taps);
            const int32_t max_quads = DSP_BUF_WORDS / st.quad_words;
            const int32_t quads = (op->out_c + 3) / 4;
            const int32_t chunks = (quads + max_quads - 1) / max_quads;
            st.nch = 4 * ((quads + chunks - 1) / chunks); /* channels per chunk, balanced */
        }
        ex.prepare = dsp_dw_prepare;
        ex.row = st.quad_words != 0 ? dsp_dw_row : dsp_dw_row_plain;
        ex.pooled_row = NULL;
    } else {
        dsp_gemm_layout(op, &st);
        ex.prepare = dsp_gemm_prepare;
        ex.row = dsp_gemm_row;
        ex.pooled_row = dsp_gemm_pooled_row;
    }
    if (job->pool == NULL && op->kind == PS_KIND_POINTWISE) {
        /* a 1x1 conv's pixels are contiguous in the input and the output: the whole batch is
         * one row for the 4-pixel blocks (no lone pixels at the end of each image row) */
        const int32_t pixels = op->batch * op->in_h * op->in_w; /* one tensor's elements */
        for (int32_t oc0 = 0; oc0 < op->out_c; oc0 = ex.oc1) {
            ex.prepare(&ex, oc0);
            dsp_gemm_row(&ex, 0, 0, 0, pixels, job->output + oc0, op->out_c);
        }
        return;
    }
    ps_conv_drive(&ex, job);
}

#endif /* PS_DSP_PATH_BUILT */
