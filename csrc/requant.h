/*
 * The one requantization helper every conv-like kernel uses (SPEC.md, Requantization).
 *
 * TFLite does this arithmetic in int32 and lets x * 2^left and "+ output_zp" wrap
 * on overflow (undefined in C, two's complement on every target it ships on). We
 * reproduce those exact bytes without undefined behaviour: wrapping is done
 * explicitly through uint32_t.
 */
#ifndef PS_REQUANT_H
#define PS_REQUANT_H

#include <stdint.h>

#include "arith.h"
#include "pyshrink.h"

/* Two's complement wrap of a 64-bit value to int32, with no implementation-defined step. */
static inline int32_t ps_wrap32(int64_t v)
{
    uint32_t u = (uint32_t)((uint64_t)v & 0xFFFFFFFFu);
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) + INT32_MIN;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded to nearest, ties toward
 * +infinity (the nudge is 1 - 2^30 for negatives, then truncation toward zero). */
static inline int32_t ps_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    int64_t ab = ps_smull(a, b);
    int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    /* C99 division truncates toward zero, as the formula asks. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^e rounded half away from zero, 0 <= e <= 31. */
static inline int32_t ps_rounding_divide_by_pot(int32_t x, int e)
{
    int32_t mask = (int32_t)(ps_shl64(1, e) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    /* Arithmetic right shift of a negative value: implementation-defined in C99,
     * so floor-divide explicitly. */
    int32_t quotient = x >= 0 ? (x >> e) : (int32_t)(-ps_asr64(-(int64_t)x + mask, e));
    return quotient + (remainder > threshold ? 1 : 0);
}

/* MultiplyByQuantizedMultiplier, double rounding. */
static inline int32_t ps_mbqm_double(int32_t x, int32_t multiplier, int32_t shift)
{
    int left = shift > 0 ? shift : 0;
    int right = shift > 0 ? 0 : -shift;
    int32_t scaled = ps_wrap32((int64_t)ps_lsl64((uint32_t)x, left));
    return ps_rounding_divide_by_pot(ps_srdhm(scaled, multiplier), right);
}

/* MultiplyByQuantizedMultiplier, TFLITE_SINGLE_ROUNDING. */
static inline int32_t ps_mbqm_single(int32_t x, int32_t multiplier, int32_t shift)
{
    int total = 31 - shift; /* 1 .. 62 */
    int64_t prod = ps_smull(x, multiplier) + ps_shl64(1, total - 1);
    /* floor(prod / 2^total) without relying on the sign of >> */
    int64_t q = prod >= 0 ? ps_asr64(prod, total)
                          : -(int64_t)(ps_lsr64((uint64_t)(-(prod + 1)), total) + 1);
    return ps_wrap32(q);
}

/* acc -> int8 for one output channel: requantize, add the zero point (int32, wrapping
 * like TFLite), clamp to the activation range. */
static inline int8_t ps_requantize(int32_t acc, int32_t multiplier, int32_t shift,
                                   const ps_quant_params *q)
{
    int32_t scaled = q->requant == PS_REQUANT_SINGLE ? ps_mbqm_single(acc, multiplier, shift)
                                                     : ps_mbqm_double(acc, multiplier, shift);
    int32_t v = ps_wrap32((int64_t)scaled + q->output_zp);
    if (v < q->act_min) {
        v = q->act_min;
    }
    if (v > q->act_max) {
        v = q->act_max;
    }
    return (int8_t)v;
}

#endif /* PS_REQUANT_H */
