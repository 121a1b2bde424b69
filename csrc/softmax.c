/*
 * int8 softmax over the last axis, bit-exact with TensorFlow Lite's reference kernel
 * (reference_ops::Softmax for int8 in, int8 out; scale 1/256, zero point -128 out).
 *
 * Per row: d = x - max(row); the d >= diff_min are rescaled to Q5.26 by
 * input_multiplier * 2^input_left_shift, exp(d) is evaluated in Q0.31 with gemmlowp's
 * fixed-point exp_on_negative_values, the exps are summed in Q12.19, the sum is
 * inverted with gemmlowp's Newton-Raphson 1/(1+x), and each exp times the inverse is
 * rounded to 1/256 steps. Everything is int32 arithmetic with 64-bit products; where
 * the TFLite code would wrap an int32 sum, the wrap is explicit (ps_wrap32), so there
 * is no undefined behaviour.
 */
#include "internal.h"
#include "pyshrink.h"
#include "requant.h"

/* exp's input is Q5.26: differences down to -32 (after scaling) are representable. */
#define SOFTMAX_DIFF_INTEGER_BITS 5
/* The sum of exps is Q12.19: Rescale<12> of each Q0.31 exp, a plain int32 sum. */
#define SOFTMAX_ACCUM_INTEGER_BITS 12
/* CalculateInputRadius(5, s): floor((2^5 - 1) * 2^(31 - 5) / 2^s) = RADIUS >> s. */
#define SOFTMAX_RADIUS ((int32_t)31 << 26)
/* A row whose sum of exps reaches 2^28 (512.0 in Q12.19) would need a final shift
 * above 31: TFLite's reference kernel aborts on its TFLITE_CHECK there. Every output
 * of such a row is exp / sum < 1/512, which rounds to 0 steps: -128. */
#define SOFTMAX_SUM_LIMIT ((int32_t)1 << 28)

/* gemmlowp constants, raw int32 */
#define EXP_MINUS_ONE_EIGHTH 1895147668 /* exp(-1/8) in Q0.31 */
#define ONE_THIRD 715827883             /* 1/3 in Q0.31 */
#define FORTY_EIGHT_OVER_17 1515870810  /* 48/17 in Q2.29 */
#define MINUS_32_OVER_17 (-1010580540)  /* -32/17 in Q2.29 */

/* exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter of exp_on_negative_values */
static const int32_t exp_barrel[7] = {
    1672461947, /* exp(-1/4) */
    1302514674, /* exp(-1/2) */
    790015084,  /* exp(-1) */
    290630308,  /* exp(-2) */
    39332535,   /* exp(-4) */
    720401,     /* exp(-8) */
    242         /* exp(-16) */
};

/* int32 addition that wraps like the compiled TFLite code (never overflows in practice). */
static inline int32_t add32(int32_t a, int32_t b)
{
    return ps_wrap32((int64_t)a + b);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT<e> for 0 < e < 31: x * 2^e, saturated to int32. */
static inline int32_t saturating_shift_left(int32_t x, int e)
{
    const int32_t threshold = (int32_t)(ps_shl64(1, 31 - e) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)ps_smul64(x, ps_shl64(1, e));
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl: a in Q0.31, [-1/4, 0).
 * Taylor expansion around -1/8: exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24), x = a + 1/8. */
static int32_t exp_on_quarter_interval(int32_t a)
{
    const int32_t x = add32(a, (int32_t)1 << 28);
    const int32_t x2 = ps_srdhm(x, x);
    const int32_t x3 = ps_srdhm(x2, x);
    const int32_t x4 = ps_srdhm(x2, x2);
    const int32_t x4_over_4 = ps_rounding_divide_by_pot(x4, 2);
    const int32_t poly = ps_rounding_divide_by_pot(
        add32(ps_srdhm(add32(x4_over_4, x3), ONE_THIRD), x2), 1);
    return add32(EXP_MINUS_ONE_EIGHTH, ps_srdhm(EXP_MINUS_ONE_EIGHTH, add32(x, poly)));
}

/* gemmlowp exp_on_negative_values: a <= 0 in Q5.26, exp(a) in Q0.31. */
static int32_t exp_on_negative_values(int32_t a)
{
    if (a == 0) {
        return INT32_MAX; /* FixedPoint<int32_t, 0>::One() */
    }
    const int32_t quarter = (int32_t)1 << 24; /* 1/4 in Q5.26 */
    /* a = (a mod 1/4) - 1/4 - (a multiple of 1/4); the & works on the two's complement
     * bits, which C99 guarantees for int32_t. */
    const int32_t a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter;
    /* Rescale<0> from Q5.26 to Q0.31: a value in [-1/4, 0) times 2^5, never saturates. */
    int32_t result = exp_on_quarter_interval(saturating_shift_left(a_mod_quarter_minus_quarter,
                                                                   SOFTMAX_DIFF_INTEGER_BITS));
    /* The rest, a non-negative multiple of 1/4, bit by bit: bit 24 + k stands for 2^(k-2). */
    const uint32_t remainder = (uint32_t)a_mod_quarter_minus_quarter - (uint32_t)a;
    for (int k = 0; k < 7; k++) {
        if ((remainder >> (24 + k)) & 1u) {
            result = ps_srdhm(result, exp_barrel[k]);
        }
    }
    return result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: a in Q0.31, [0, 1); 1 / (1 + a) in Q0.31. */
static int32_t one_over_one_plus_x(int32_t a)
{
    /* RoundingHalfSum(a, One()): (a + 2^31 - 1 + 1) / 2, the sum being positive. */
    const int32_t half_denominator = (int32_t)(((int64_t)a + INT32_MAX + 1) / 2);
    /* Newton-Raphson in Q2.29, from 48/17 - 32/17 * d */
    int32_t x = add32(FORTY_EIGHT_OVER_17, ps_srdhm(half_denominator, MINUS_32_OVER_17));
    for (int i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = ps_srdhm(half_denominator, x);
        const int32_t one_minus = add32((int32_t)1 << 29, -half_denominator_times_x);
        /* Q2.29 * Q2.29 is Q4.27; Rescale<2> back to Q2.29 is a saturating << 2. */
        x = add32(x, saturating_shift_left(ps_srdhm(x, one_minus), 2));
    }
    /* x approximates 1 / half_denominator in Q2.29; halved that is Q1.30 -> Q0.31: << 1. */
    return saturating_shift_left(x, 1);
}

/* Leading zero bits of a 32-bit value (> 0), portably. */
static int count_leading_zeros(uint32_t v)
{
    int n = 0;
    while (!(v & 0x80000000u)) {
        v <<= 1;
        n++;
    }
    return n;
}

/* exp of one input difference d (diff_min <= d <= 0), in Q0.31. */
static inline int32_t softmax_exp(const ps_softmax_params *params, int32_t diff)
{
    /* MultiplyByQuantizedMultiplierGreaterThanOne: SRDHM(d * 2^s, m). |d| * 2^s <= RADIUS
     * < 2^31 by the diff_min check; the product is taken in 64 bits (d < 0). */
    const int32_t scaled = (int32_t)ps_smul64(diff, ps_shl64(1, params->input_left_shift));
    return exp_on_negative_values(ps_srdhm(scaled, params->input_multiplier));
}

static ps_status check_softmax_params(const ps_softmax_params *params)
{
    if (params == NULL) {
        return PS_ERR_NULL;
    }
    if (params->input_multiplier < ((int32_t)1 << 30) || params->input_left_shift < 0 ||
        params->input_left_shift > 31) {
        return PS_ERR_PARAM;
    }
    if (params->diff_min > 0 || params->diff_min < -(SOFTMAX_RADIUS >> params->input_left_shift)) {
        return PS_ERR_PARAM;
    }
    return PS_OK;
}

/* A positive, finite, non-zero float32 (its IEEE-754 bits) as mantissa * 2^exponent
 * (mantissa < 2^24). */
static int decode_positive_float(uint32_t bits, uint64_t *mantissa, int32_t *exponent)
{
    const uint32_t biased = (bits >> 23) & 0xFFu;
    const uint32_t fraction = bits & 0x7FFFFFu;
    if ((bits >> 31) || biased == 0xFFu || (biased == 0 && fraction == 0)) {
        return 0; /* negative, -0, NaN, infinity or zero */
    }
    if (biased == 0) { /* subnormal */
        *mantissa = fraction;
        *exponent = -149;
    } else {
        *mantissa = fraction | 0x800000u;
        *exponent = (int32_t)biased - 150;
    }
    return 1;
}

ps_status ps_softmax_prepare(uint32_t input_scale_bits, uint32_t beta_bits,
                             ps_softmax_params *params)
{
    if (params == NULL) {
        return PS_ERR_NULL;
    }
    uint64_t m_scale, m_beta;
    int32_t e_scale, e_beta;
    if (!decode_positive_float(input_scale_bits, &m_scale, &e_scale) ||
        !decode_positive_float(beta_bits, &m_beta, &e_beta)) {
        return PS_ERR_PARAM;
    }
    /* real = beta * input_scale * 2^(31 - 5) = m * 2^e exactly: TFLite's double product of
     * two floats is exact too (48 significant bits). */
    const uint64_t m = ps_mul64(m_scale, m_beta);
    const int32_t e = e_scale + e_beta + (31 - SOFTMAX_DIFF_INTEGER_BITS);
    int32_t length = 0; /* bit length of m: real = (m / 2^length) * 2^(length + e), frexp */
    while (ps_lsr64(m, length) != 0) {
        length++;
    }
    int32_t shift = length + e;
    const int is_half = m == ps_lsl64(1, length - 1);
    /* QuantizeMultiplierGreaterThanOne checks real > 1 (TFLite aborts otherwise). */
    if (shift < 1 || (shift == 1 && is_half)) {
        return PS_ERR_PARAM;
    }
    uint64_t q_fixed; /* round(q * 2^31) half away from zero, q = m / 2^length */
    if (length <= 31) {
        q_fixed = ps_lsl64(m, 31 - length);
    } else {
        q_fixed = ps_lsr64(m + ps_lsl64(1, length - 32), length - 31);
    }
    /* min(real, 2^31 - 1): real >= 2^31 - 1 has shift > 31, or shift 31 and q * 2^31 at
     * least 2^31 - 1 (exactly, before rounding; rounding up from below 2^31 - 1 cannot
     * reach it: q * 2^31 < 2^31 - 1 rounds to at most 2^31 - 1, which is the cap). */
    int capped = shift > 31;
    if (shift == 31) {
        capped = length <= 31 ? q_fixed >= (UINT64_C(1) << 31) - 1
                              : ps_lsr64(m, length - 31) >= (UINT64_C(1) << 31) - 1;
    }
    if (capped) {
        q_fixed = (UINT64_C(1) << 31) - 1; /* frexp(2^31 - 1) = ((2^31 - 1) / 2^31, 31) */
        shift = 31;
    } else if (q_fixed == (UINT64_C(1) << 31)) {
        q_fixed >>= 1;
        shift += 1; /* at most 31: a q_fixed of 2^31 at shift 31 was capped above */
    }
    params->input_multiplier = (int32_t)q_fixed;
    params->input_left_shift = shift;
    params->diff_min = -(SOFTMAX_RADIUS >> shift);
    return PS_OK;
}

ps_status ps_softmax(const ps_softmax_params *params, int32_t rows, int32_t depth,
                     const int8_t *input, int8_t *output)
{
    PS_RETURN_IF_ERROR(check_softmax_params(params));
    if (input == NULL || output == NULL) {
        return PS_ERR_NULL;
    }
    if (rows < 1 || depth < 1 || ps_smull(rows, depth) > PS_MAX_ELEMENTS) {
        return PS_ERR_SHAPE;
    }
    const int32_t diff_min = params->diff_min;
    for (int32_t r = 0; r < rows; r++) {
        const int8_t *in = input + (size_t)r * (size_t)depth;
        int8_t *out = output + (size_t)r * (size_t)depth;
        int32_t max_in_row = -128;
        for (int32_t c = 0; c < depth; c++) {
            max_in_row = in[c] > max_in_row ? in[c] : max_in_row;
        }
        /* Sum of exps in Q12.19; each term is at most 2^19, so stopping at the limit
         * keeps the int32 sum far from overflow. */
        int32_t sum_of_exps = 0;
        for (int32_t c = 0; c < depth && sum_of_exps < SOFTMAX_SUM_LIMIT; c++) {
            const int32_t diff = in[c] - max_in_row;
            if (diff >= diff_min) {
                /* Rescale<12>: Q0.31 -> Q12.19 */
                sum_of_exps += ps_rounding_divide_by_pot(softmax_exp(params, diff),
                                                         SOFTMAX_ACCUM_INTEGER_BITS);
            }
        }
        if (sum_of_exps >= SOFTMAX_SUM_LIMIT) {
            for (int32_t c = 0; c < depth; c++) {
                out[c] = -128;
            }
            continue;
        }
        /* GetReciprocal(sum, 12): sum = (1 + x) * 2^(12 - headroom_plus_one) with x in
         * [0, 1) in Q0.31; the max element's exp(0) alone gives 2^19, so the sum is > 0. */
        const int headroom_plus_one = count_leading_zeros((uint32_t)sum_of_exps);
        const int num_bits_over_unit = SOFTMAX_ACCUM_INTEGER_BITS - headroom_plus_one;
        const int32_t shifted_sum_minus_one =
            (int32_t)(((uint32_t)sum_of_exps << headroom_plus_one) - 0x80000000u);
        const int32_t shifted_scale = one_over_one_plus_x(shifted_sum_minus_one);
        /* exp * scale is Q0.31 of the probability times 2^-num_bits_over_unit; to 1/256 steps */
        const int exponent = num_bits_over_unit + 31 - 8; /* 23 .. 31 below the limit */
        for (int32_t c = 0; c < depth; c++) {
            const int32_t diff = in[c] - max_in_row;
            int32_t v = -128;
            if (diff >= diff_min) {
                const int32_t steps = ps_rounding_divide_by_pot(
                    ps_srdhm(shifted_scale, softmax_exp(params, diff)), exponent);
                v = steps - 128;
                v = v > 127 ? 127 : v;
                v = v < -128 ? -128 : v;
            }
            out[c] = (int8_t)v;
        }
    }
    return PS_OK;
}
