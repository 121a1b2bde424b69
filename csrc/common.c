/* Status messages, geometry and the validation shared by every kernel. */
#include <string.h>

#include "internal.h"
#include "pyshrink.h"

const char *ps_status_message(ps_status status)
{
    switch (status) {
    case PS_OK:
        return "ok";
    case PS_ERR_NULL:
        return "a required pointer is NULL";
    case PS_ERR_SHAPE:
        return "invalid or mismatched tensor dimensions";
    case PS_ERR_PARAM:
        return "a parameter is outside its valid range";
    case PS_ERR_OUTPUT_SIZE:
        return "output size is smaller than 1 or does not match the output dimensions";
    case PS_ERR_POOL_COUNT:
        return "shift rounding needs every pooling window count to be a power of two";
    case PS_ERR_OVERFLOW:
        return "the int32 accumulator could overflow for some input";
    case PS_ERR_SCRATCH:
        return "scratch buffer is smaller than the kernel's scratch size";
    }
    return "unknown status";
}

int32_t ps_output_size(int32_t in, int32_t kernel, int32_t stride, int32_t dilation,
                       int32_t pad_lo, int32_t pad_hi)
{
    if (in < 1 || kernel < 1 || stride < 1 || dilation < 1 || pad_lo < 0 || pad_hi < 0) {
        return 0;
    }
    int64_t span = ps_smull(kernel - 1, dilation) + 1;
    int64_t padded = (int64_t)in + pad_lo + pad_hi;
    /* Every window position a kernel computes lies in [-pad_lo, in + pad_hi]: keeping the
     * padded extent within int32 keeps all window arithmetic within int32. */
    if (padded > INT32_MAX) {
        return 0;
    }
    int64_t room = padded - span;
    if (room < 0) {
        return 0;
    }
    /* 0 <= room < 2^31 here: a 32-bit division (no 64-bit division helper on a Cortex-M) */
    return ps_div32((int32_t)room, stride) + 1;
}

ps_status ps_quantize_multiplier(const double *real, size_t count, int32_t *multiplier,
                                 int32_t *shift)
{
    if (count > 0 && (real == NULL || multiplier == NULL || shift == NULL)) {
        return PS_ERR_NULL;
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t bits;
        memcpy(&bits, &real[i], sizeof bits);
        int32_t biased = (int32_t)((bits >> 52) & 0x7FF);
        uint64_t fraction = bits & ((UINT64_C(1) << 52) - 1);
        if (biased == 0x7FF || ((bits >> 63) && (biased != 0 || fraction != 0))) {
            return PS_ERR_PARAM; /* NaN, infinity or negative */
        }
        /* real = q * 2^e with q = (2^52 + fraction) / 2^53 in [0.5, 1): frexp. Zero and
         * subnormals are far below 2^-31 and give (0, 0) like TFLite. A normal e < -31 is
         * only tested after rounding, which may still lift it to -31, as TFLite does. */
        int32_t e = biased - 1022;
        if (biased == 0) {
            multiplier[i] = 0;
            shift[i] = 0;
            continue;
        }
        /* round(q * 2^31) half away from zero = (mantissa + 2^21) >> 22 */
        uint64_t q_fixed = ((UINT64_C(1) << 52 | fraction) + (UINT64_C(1) << 21)) >> 22;
        if (q_fixed == (UINT64_C(1) << 31)) {
            q_fixed >>= 1;
            e += 1;
        }
        if (e < -31) {
            q_fixed = 0;
            e = 0;
        }
        if (e > 30) {
            q_fixed = (UINT64_C(1) << 31) - 1;
            e = 30;
        }
        multiplier[i] = (int32_t)q_fixed;
        shift[i] = e;
    }
    return PS_OK;
}

ps_status ps_check_dims(const ps_dims *dims)
{
    if (dims == NULL) {
        return PS_ERR_NULL;
    }
    if (dims->n < 1 || dims->h < 1 || dims->w < 1 || dims->c < 1) {
        return PS_ERR_SHAPE;
    }
    /* One factor at a time, each partial count checked: the product of the four could
     * overflow even int64 (n * h * w alone reaches 2^93). */
    const int32_t factors[3] = {dims->h, dims->w, dims->c};
    int32_t count = dims->n;
    for (int i = 0; i < 3; i++) {
        const int64_t next = ps_smull(count, factors[i]);
        if (next > PS_MAX_ELEMENTS) {
            return PS_ERR_SHAPE;
        }
        count = (int32_t)next;
    }
    return PS_OK;
}

static int ps_is_int8(int32_t v)
{
    return v >= -128 && v <= 127;
}

ps_status ps_check_quant(const ps_quant_params *quant, int32_t channels)
{
    if (quant == NULL || quant->multiplier == NULL || quant->shift == NULL) {
        return PS_ERR_NULL;
    }
    if (!ps_is_int8(quant->input_zp) || !ps_is_int8(quant->output_zp) ||
        !ps_is_int8(quant->act_min) || !ps_is_int8(quant->act_max) ||
        quant->act_min > quant->act_max) {
        return PS_ERR_PARAM;
    }
    if (quant->requant != PS_REQUANT_DOUBLE && quant->requant != PS_REQUANT_SINGLE) {
        return PS_ERR_PARAM;
    }
    for (int32_t oc = 0; oc < channels; oc++) {
        int32_t m = quant->multiplier[oc];
        int32_t s = quant->shift[oc];
        if ((m != 0 && m < (INT32_C(1) << 30)) || s < -31 || s > 30) {
            return PS_ERR_PARAM;
        }
    }
    return PS_OK;
}

/* Chunks that keep the int32 partial sums of |w| exact: PS_ACC_TAPS * 128 < 2^31. */
#define PS_ACC_TAPS (INT32_C(1) << 23)
#define PS_ACC_CHANNELS 64

static ps_status ps_check_channel(int64_t abs_sum, const int32_t *bias, int32_t oc, int64_t max_x)
{
    int64_t b = bias == NULL ? 0 : bias[oc];
    return (b < 0 ? -b : b) + ps_smul64(max_x, abs_sum) > INT32_MAX ? PS_ERR_OVERFLOW : PS_OK;
}

/* Whether channel oc passes ps_check_channel whatever its weights: sum |w| <= 128 * taps
 * bounds every channel's, so most layers (taps below ~65,000, small biases) need no pass
 * over the weights; that pass cost ~10-20% of a small layer's call. */
static int ps_channel_fits_any_weights(const int32_t *bias, int32_t oc, int64_t worst)
{
    int64_t b = bias == NULL ? 0 : bias[oc];
    return (b < 0 ? -b : b) + worst <= INT32_MAX;
}

/* sum |w[t]|, t < taps, for one channel's contiguous taps (portable) */
static int64_t abs_sum_row(const int8_t *w, int32_t taps)
{
    int64_t abs_sum = 0;
    for (int32_t t0 = 0; t0 < taps; t0 += PS_ACC_TAPS) {
        const int32_t t1 = taps - t0 < PS_ACC_TAPS ? taps : t0 + PS_ACC_TAPS;
        int32_t part = 0;
        for (int32_t t = t0; t < t1; t++) {
            part += w[t] < 0 ? -w[t] : w[t];
        }
        abs_sum += part;
    }
    return abs_sum;
}

/* abs_sum[i] = sum_t |filter[t * tap_step + i]|, i < len <= PS_ACC_CHANNELS (portable) */
static void abs_sum_columns(const int8_t *filter, int32_t taps, ptrdiff_t tap_step, int32_t len,
                            int64_t *abs_sum)
{
    int32_t part[PS_ACC_CHANNELS];
    for (int32_t i = 0; i < len; i++) {
        abs_sum[i] = 0;
    }
    for (int32_t t0 = 0; t0 < taps; t0 += PS_ACC_TAPS) {
        const int32_t t1 = taps - t0 < PS_ACC_TAPS ? taps : t0 + PS_ACC_TAPS;
        for (int32_t i = 0; i < len; i++) {
            part[i] = 0;
        }
        for (int32_t t = t0; t < t1; t++) {
            const int8_t *w = filter + t * tap_step;
            for (int32_t i = 0; i < len; i++) {
                part[i] += w[i] < 0 ? -w[i] : w[i];
            }
        }
        for (int32_t i = 0; i < len; i++) {
            abs_sum[i] += part[i];
        }
    }
}

ps_status ps_check_accumulator(const int8_t *filter, int32_t channels, int32_t taps,
                               ptrdiff_t channel_step, ptrdiff_t tap_step,
                               const int32_t *bias, int32_t input_zp)
{
    return ps_check_accumulator_path(PS_PATH_PORTABLE, filter, channels, taps, channel_step,
                                     tap_step, bias, input_zp);
}

ps_status ps_check_accumulator_path(ps_kernel_path path, const int8_t *filter, int32_t channels,
                                    int32_t taps, ptrdiff_t channel_step, ptrdiff_t tap_step,
                                    const int32_t *bias, int32_t input_zp)
{
    /* |x - input_zp| over all int8 x */
    int64_t max_x = 127 - input_zp > input_zp + 128 ? 127 - input_zp : input_zp + 128;
    /* max_x * sum |w| for any weights; from 2^17 taps on (max_x >= 128) it exceeds int32
     * anyway, so below that a 32-bit product (< 2^32) does, with no 64-bit multiply */
    const int64_t worst = taps < (INT32_C(1) << 17) ? (int64_t)((uint32_t)max_x * 128u * (uint32_t)taps) : INT64_C(1) << 40;
    const int simd = (path == PS_PATH_AVX512 || path == PS_PATH_AVX2) && taps < PS_ACC_TAPS;
    if (tap_step == 1) { /* conv2d / pointwise: each channel's taps are contiguous */
        for (int32_t oc = 0; oc < channels; oc++) {
            if (ps_channel_fits_any_weights(bias, oc, worst)) {
                continue;
            }
            const int8_t *w = filter + oc * channel_step;
            int64_t abs_sum = !simd ? abs_sum_row(w, taps)
                              : path == PS_PATH_AVX512 ? ps_abs_sum_row_avx512(w, taps)
                                                       : ps_abs_sum_row_avx2(w, taps);
            PS_RETURN_IF_ERROR(ps_check_channel(abs_sum, bias, oc, max_x));
        }
        return PS_OK;
    }
    if (channel_step == 1) { /* depthwise: a tap's channels are contiguous */
        int64_t abs_sum[PS_ACC_CHANNELS];
        for (int32_t c0 = 0; c0 < channels; c0 += PS_ACC_CHANNELS) {
            const int32_t len = channels - c0 < PS_ACC_CHANNELS ? channels - c0 : PS_ACC_CHANNELS;
            int32_t fit = 0;
            while (fit < len && ps_channel_fits_any_weights(bias, c0 + fit, worst)) {
                fit++;
            }
            if (fit == len) {
                continue;
            }
            if (!simd) {
                abs_sum_columns(filter + c0, taps, tap_step, len, abs_sum);
            } else if (path == PS_PATH_AVX512) {
                ps_abs_sum_columns_avx512(filter + c0, taps, tap_step, len, abs_sum);
            } else {
                ps_abs_sum_columns_avx2(filter + c0, taps, tap_step, len, abs_sum);
            }
            for (int32_t i = 0; i < len; i++) {
                PS_RETURN_IF_ERROR(ps_check_channel(abs_sum[i], bias, c0 + i, max_x));
            }
        }
        return PS_OK;
    }
    for (int32_t oc = 0; oc < channels; oc++) {
        if (ps_channel_fits_any_weights(bias, oc, worst)) {
            continue;
        }
        const int8_t *w = filter + oc * channel_step;
        int64_t abs_sum = 0;
        for (int32_t t = 0; t < taps; t++) {
            int32_t v = w[t * tap_step];
            abs_sum += v < 0 ? -v : v;
        }
        PS_RETURN_IF_ERROR(ps_check_channel(abs_sum, bias, oc, max_x));
    }
    return PS_OK;
}

ps_status ps_check_output_dims(const ps_dims *output_dims, int32_t batch, int32_t h, int32_t w,
                               int32_t c)
{
    if (output_dims == NULL) {
        return PS_ERR_NULL;
    }
    if (output_dims->n != batch || output_dims->h != h || output_dims->w != w ||
        output_dims->c != c) {
        return PS_ERR_OUTPUT_SIZE;
    }
    return PS_OK;
}

/* Every clipped window extent along one axis is a power of two. */
static int ps_pool_axis_pow2(int32_t out, int32_t stride, int32_t pad, int32_t size, int32_t in)
{
    for (int32_t o = 0; o < out; o++) {
        int32_t lo, hi;
        ps_pool_window(o, stride, pad, size, in, &lo, &hi);
        if (ps_exact_log2(hi - lo) < 0) {
            return 0;
        }
    }
    return 1;
}

ps_status ps_pool_prepare(const ps_pool_params *pool, int32_t in_h, int32_t in_w,
                          int32_t *out_h, int32_t *out_w)
{
    if (pool == NULL) {
        return PS_ERR_NULL;
    }
    if (pool->pool_h < 1 || pool->pool_w < 1 || pool->stride_h < 1 || pool->stride_w < 1 ||
        pool->pad_top < 0 || pool->pad_bottom < 0 || pool->pad_left < 0 || pool->pad_right < 0) {
        return PS_ERR_PARAM;
    }
    /* A pad as large as the window would allow windows with no input position. */
    if (pool->pad_top >= pool->pool_h || pool->pad_bottom >= pool->pool_h ||
        pool->pad_left >= pool->pool_w || pool->pad_right >= pool->pool_w) {
        return PS_ERR_PARAM;
    }
    /* The window sum of int8 values stays within int32. */
    if (ps_smull(pool->pool_h, pool->pool_w) > (INT32_MAX / 128)) {
        return PS_ERR_PARAM;
    }
    if (!ps_is_int8(pool->act_min) || !ps_is_int8(pool->act_max) ||
        pool->act_min > pool->act_max) {
        return PS_ERR_PARAM;
    }
    if (pool->rounding != PS_ROUND_TFLITE && pool->rounding != PS_ROUND_FLOOR &&
        pool->rounding != PS_ROUND_HALF_UP) {
        return PS_ERR_PARAM;
    }
    ps_kernel_path path;
    PS_RETURN_IF_ERROR(ps_resolve_path(pool->path, &path));
    *out_h = ps_output_size(in_h, pool->pool_h, pool->stride_h, 1, pool->pad_top,
                            pool->pad_bottom);
    *out_w = ps_output_size(in_w, pool->pool_w, pool->stride_w, 1, pool->pad_left,
                            pool->pad_right);
    if (*out_h < 1 || *out_w < 1) {
        return PS_ERR_OUTPUT_SIZE;
    }
    if (pool->rounding != PS_ROUND_TFLITE &&
        !(ps_pool_axis_pow2(*out_h, pool->stride_h, pool->pad_top, pool->pool_h, in_h) &&
          ps_pool_axis_pow2(*out_w, pool->stride_w, pool->pad_left, pool->pool_w, in_w))) {
        return PS_ERR_POOL_COUNT;
    }
    return PS_OK;
}
