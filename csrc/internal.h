/*
 * Internal to the C core: validation shared by the kernels, the per-row conv
 * functions the fused kernels drive, and the pooling average.
 */
#ifndef PS_INTERNAL_H
#define PS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arith.h"
#include "pyshrink.h"

#define PS_RETURN_IF_ERROR(expr)      \
    do {                              \
        ps_status ps_status_ = (expr); \
        if (ps_status_ != PS_OK) {    \
            return ps_status_;        \
        }                             \
    } while (0)

/* Largest element count of one tensor (indices stay within int32 and size_t on any MCU). */
#define PS_MAX_ELEMENTS INT32_MAX

/* All four dims >= 1 and the element count <= PS_MAX_ELEMENTS. */
ps_status ps_check_dims(const ps_dims *dims);

/* Zero points, activation range, requant mode, and every channel's multiplier/shift. */
ps_status ps_check_quant(const ps_quant_params *quant, int32_t channels);

/* Rejects a filter for which |bias| + max|x - input_zp| * sum|w| could exceed INT32_MAX
 * for some channel: the accumulator is then exact int32 whatever the input.
 * Channel oc's taps are filter[oc * channel_step + t * tap_step], t < taps. */
ps_status ps_check_accumulator(const int8_t *filter, int32_t channels, int32_t taps,
                               ptrdiff_t channel_step, ptrdiff_t tap_step,
                               const int32_t *bias, int32_t input_zp);

typedef enum {
    PS_KIND_CONV2D = 0,
    PS_KIND_DEPTHWISE = 1,
    PS_KIND_POINTWISE = 2 /* also fully connected: batch rows become the pixels of one row */
} ps_conv_kind;

/* ps_check_accumulator with the sums of |w| computed by `path`'s code (same result). */
ps_status ps_check_accumulator_path(ps_kernel_path path, const int8_t *filter, int32_t channels,
                                    int32_t taps, ptrdiff_t channel_step, ptrdiff_t tap_step,
                                    const int32_t *bias, int32_t input_zp);
/* sum |w[t]|, t < taps (taps < 2^23), and per column i < len <= 64 of a tap-major filter */
int64_t ps_abs_sum_row_avx2(const int8_t *w, int32_t taps);
int64_t ps_abs_sum_row_avx512(const int8_t *w, int32_t taps);
void ps_abs_sum_columns_avx2(const int8_t *filter, int32_t taps, ptrdiff_t tap_step, int32_t len,
                             int64_t *abs_sum);
void ps_abs_sum_columns_avx512(const int8_t *filter, int32_t taps, ptrdiff_t tap_step, int32_t len,
                               int64_t *abs_sum);

/* A conv-like op, resolved: what a row function needs to compute output pixels. */
typedef struct {
    const ps_quant_params *quant;
    const int8_t *input;
    const int8_t *filter;
    const int32_t *bias;
    int32_t batch;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t kernel_h, kernel_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth_multiplier;
    ps_conv_kind kind;
    ps_kernel_path path; /* resolved: never PS_PATH_AUTO */
} ps_conv_op;

/* Computes conv output pixels (n, oy, ox) for ox0 <= ox < ox1, all channels, into
 * dst[(ox - ox0) * out_c + oc]. The reference (PS_PATH_REF) row functions. */
typedef void (*ps_conv_row_fn)(const ps_conv_op *op, int32_t n, int32_t oy, int32_t ox0,
                               int32_t ox1, int8_t *dst);

/* One path's implementation of a conv-like op for the duration of one kernel call.
 * prepare(ex, oc0) readies output channels [oc0, end) (e.g. packs their weights into
 * the path's stack buffers), records them in ex->oc0/oc1 and returns end > oc0; row()
 * then computes conv pixels (n, oy, ox0 <= ox < ox1) for those channels into
 * dst[(ox - ox0) * dst_stride + (oc - ex->oc0)]. The drivers below walk the channel
 * chunks outermost, so each chunk is prepared once per call.
 * In-place depthwise (ps_depthwise_conv2d_inplace_offset) relies on this order: a
 * depthwise row (multiplier 1) must handle its pixels in increasing ox, read all taps of
 * a pixel (or of a block of pixels) before writing its bytes, and write no byte but
 * those of its pixels' channels [oc0, oc1): a new path must keep that, or the offset
 * must grow (tests/test_depthwise_conv2d_inplace.py runs every path in place).
 * pooled_row (optional, NULL if the path has none) serves the fused window mode: for
 * each of the pooled_w windows px of the conv rows y0 <= y < y1 (columns from
 * ps_pool_window), it sums the int8 results over the window's conv pixels (blocking
 * across the window's rows, accumulating in registers) and writes the pooled averages
 * (ps_pool_average of the sums over the window's count) to out[px * out_stride + oc - oc0].
 * sums (oc1 - oc0 int32) and tile (a window row of int8 results, (x1 - x0) * (oc1 - oc0))
 * are the fused scratch: the hook may use them as working memory, and nothing reads them
 * after it returns. */
typedef struct ps_conv_exec ps_conv_exec;
struct ps_conv_exec {
    const ps_conv_op *op;
    int32_t (*prepare)(ps_conv_exec *ex, int32_t oc0);
    void (*row)(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                int8_t *dst, int32_t dst_stride);
    void (*pooled_row)(const ps_conv_exec *ex, int32_t n, int32_t y0, int32_t y1,
                       const ps_pool_params *pool, int32_t pooled_w, int8_t *tile, int32_t *sums,
                       int8_t *out, int32_t out_stride);
    /* the ring mode's window (optional, NULL: portable loops): sums[c] = the sum over conv
     * rows y0 <= y < y1 (ring slot y % pool_h, row_bytes apart) and columns x0 <= x < x1 of
     * the ring's int8 values of channel c < cc, and out[c] = their pooled average */
    void (*ring_window)(const int8_t *ring, size_t row_bytes, int32_t pool_h, int32_t y0,
                        int32_t y1, int32_t x0, int32_t x1, int32_t cc, const ps_pool_params *pool,
                        int32_t *sums, int8_t *out);
    int32_t oc0, oc1;
    void *state;
    /* the ring mode's pooled row (optional, NULL: ring_window per window): out[px * out_stride
     * + c], for pooled columns px < pooled_w and channels c < cc, is the pooled average of
     * window px over conv rows y0 <= y < y1 (ring slot y % pool_h, row_bytes apart); sums
     * (cc int32) is working memory */
    void (*ring_row)(const ps_conv_exec *ex, const int8_t *ring, size_t row_bytes, int32_t y0,
                     int32_t y1, int32_t cc, const ps_pool_params *pool, int32_t pooled_w,
                     int32_t *sums, int8_t *out, int32_t out_stride);
};

/* What to compute: the conv output, or (pool != NULL) its average pooling, fused. */
typedef struct {
    int8_t *output;
    const ps_pool_params *pool;
    int32_t pooled_h, pooled_w;
    int32_t *sums; /* fused scratch: out_c int32 sums, then the int8 tile or ring */
    int8_t *tile;
} ps_conv_job;

/* Runs a validated job on op->path. */
void ps_conv_execute(const ps_conv_op *op, const ps_conv_job *job);
/* The drivers: every path's run function sets up its ps_conv_exec and calls this. */
void ps_conv_drive(ps_conv_exec *ex, const ps_conv_job *job);
void ps_fused_drive(ps_conv_exec *ex, const ps_conv_job *job);

/* The paths' run functions (x86 ones exist in every build; they are only called when
 * ps_kernel_path_supported says so). */
void ps_conv_run_portable(const ps_conv_op *op, const ps_conv_job *job);
void ps_conv_run_avx2(const ps_conv_op *op, const ps_conv_job *job);
void ps_conv_run_avx512(const ps_conv_op *op, const ps_conv_job *job);
/* arm_dsp.c: the DSP instructions themselves on Arm with the DSP extension, the same
 * operations in C99 elsewhere (hosts: the tests run its loops); left out of Arm builds
 * without the extension (Cortex-M0+: AUTO would never pick it, and it is ~10 KB of flash) */
#if defined(__arm__) && !(defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP)
#define PS_DSP_PATH_BUILT 0
#else
#define PS_DSP_PATH_BUILT 1
#endif
void ps_conv_run_dsp(const ps_conv_op *op, const ps_conv_job *job);

/* A requested path (quant->path or pool->path), checked and resolved: PS_ERR_PARAM for an
 * unknown or unsupported one. */
ps_status ps_resolve_path(ps_kernel_path requested, ps_kernel_path *resolved);

/* Magic numbers for an exact division by a count d that is not a power of two:
 * floor(v / d) == (v * m) >> shift for 0 <= v < 2^31, m = floor(2^shift / d) + 1 < 2^32,
 * shift = 31 + ceil(log2 d). (v * m < 2^63; the error m * d - 2^shift is in (0, d], so
 * v * error / 2^shift < d / 2^ceil(log2 d) <= 1 never reaches the next multiple.) */
static inline void ps_division_magic(int32_t d, uint32_t *m, int *shift)
{
    int l = 0;
    while (ps_shl64(1, l) < d) {
        l++;
    }
    *shift = 31 + l;
    *m = ps_udiv64_32(ps_lsl64(1, 31 + l), (uint32_t)d) + 1u;
}

/* The path-specific pooling kernels (validated arguments). */
void ps_avg_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);
void ps_max_pool2d_avx2(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);
void ps_avg_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                          const int8_t *input, const ps_dims *output_dims, int8_t *output);
void ps_max_pool2d_avx512(const ps_pool_params *pool, const ps_dims *input_dims,
                          const int8_t *input, const ps_dims *output_dims, int8_t *output);

/* The non-reference pooling kernels (channel-innermost loops). */
void ps_avg_pool2d_fast(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);
void ps_max_pool2d_fast(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);

/* Validate a conv2d / depthwise / pointwise call and resolve it into *op, whose
 * out_h/out_w/out_c are then the (pre-pool) conv output size. */
ps_status ps_conv2d_prepare(const ps_conv_params *conv, const ps_quant_params *quant,
                            const ps_dims *input_dims, const int8_t *input,
                            const ps_dims *filter_dims, const int8_t *filter,
                            const int32_t *bias, ps_conv_op *op);
ps_status ps_depthwise_conv2d_prepare(const ps_conv_params *conv, const ps_quant_params *quant,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, ps_conv_op *op);
ps_status ps_pointwise_conv2d_prepare(const ps_quant_params *quant,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, ps_conv_op *op);

void ps_conv2d_row(const ps_conv_op *op, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                   int8_t *dst);
void ps_depthwise_conv2d_row(const ps_conv_op *op, int32_t n, int32_t oy, int32_t ox0,
                             int32_t ox1, int8_t *dst);
void ps_pointwise_conv2d_row(const ps_conv_op *op, int32_t n, int32_t oy, int32_t ox0,
                             int32_t ox1, int8_t *dst);

/* Checks output_dims == {batch, op->out_h, op->out_w, op->out_c}. */
ps_status ps_check_output_dims(const ps_dims *output_dims, int32_t batch, int32_t h, int32_t w,
                               int32_t c);

/* Validates pool parameters against an input of in_h x in_w and gives the pooled size;
 * with a shift rounding mode, also that every clipped window count is a power of two. */
ps_status ps_pool_prepare(const ps_pool_params *pool, int32_t in_h, int32_t in_w,
                          int32_t *out_h, int32_t *out_w);

/* log2(count) if count is a power of two, else -1. */
static inline int ps_exact_log2(int32_t count)
{
    int k = 0;
    while (count > 1 && (count & 1) == 0) {
        count >>= 1;
        k++;
    }
    return count == 1 ? k : -1;
}

/* Floor of sum / 2^k for any sign (>> on negatives is implementation-defined in C99). */
static inline int32_t ps_floor_shift(int32_t sum, int k)
{
    return sum >= 0 ? (sum >> k) : (int32_t)(-ps_asr64(-(int64_t)sum + ps_shl64(1, k) - 1, k));
}

/* The average of one window (SPEC.md, Average pooling), clamped. A power-of-two count
 * is always a shift; only "tflite" rounding of other counts divides. */
static inline int8_t ps_pool_average(int32_t sum, int32_t count, const ps_pool_params *pool)
{
    int k = ps_exact_log2(count);
    int32_t half = count / 2;
    int32_t avg;
    if (pool->rounding == PS_ROUND_FLOOR) {
        avg = ps_floor_shift(sum, k);
    } else if (pool->rounding == PS_ROUND_HALF_UP) {
        avg = ps_floor_shift(sum + half, k);
    } else if (k >= 0) {
        avg = sum > 0 ? ((sum + half) >> k) : -((-sum + half) >> k);
    } else {
        /* |sum| + half in uint32: near the largest window (2^24 - 1 values, ps_pool_prepare)
         * -sum + half reaches 2^31 + 2^23, past int32 */
        const uint32_t magnitude = (sum > 0 ? (uint32_t)sum : 0u - (uint32_t)sum) + (uint32_t)half;
        const int32_t q = (int32_t)ps_udiv32(magnitude, (uint32_t)count); /* <= 128 */
        avg = sum > 0 ? q : -q;
    }
    if (avg < pool->act_min) {
        avg = pool->act_min;
    }
    if (avg > pool->act_max) {
        avg = pool->act_max;
    }
    return (int8_t)avg;
}

/* ps_pool_average over len channels that share one window count: the branches on the
 * rounding mode and count are taken once, so the loops vectorise. */
static inline void ps_pool_average_run(const int32_t *sums, int32_t count, int32_t len,
                                       const ps_pool_params *pool, int8_t *dst)
{
    const int k = ps_exact_log2(count);
    const int32_t half = count / 2;
    const int32_t lo = pool->act_min, hi = pool->act_max;
    if (count > (INT32_C(1) << 20)) { /* |sum| + half could leave int32 below: stay exact */
        for (int32_t i = 0; i < len; i++) {
            dst[i] = ps_pool_average(sums[i], count, pool);
        }
        return;
    }
    if (pool->rounding == PS_ROUND_FLOOR || pool->rounding == PS_ROUND_HALF_UP) {
        const int32_t add = pool->rounding == PS_ROUND_HALF_UP ? half : 0;
        const int32_t round_down = (INT32_C(1) << k) - 1;
        for (int32_t i = 0; i < len; i++) {
            int32_t s = sums[i] + add; /* floor(s / 2^k) without >> of a negative value */
            int32_t v = s >= 0 ? s >> k : -((-s + round_down) >> k);
            v = v < lo ? lo : v;
            dst[i] = (int8_t)(v > hi ? hi : v);
        }
    } else if (k >= 0) {
        for (int32_t i = 0; i < len; i++) {
            int32_t s = sums[i];
            int32_t v = s > 0 ? (s + half) >> k : -((-s + half) >> k);
            v = v < lo ? lo : v;
            dst[i] = (int8_t)(v > hi ? hi : v);
        }
    } else {
        for (int32_t i = 0; i < len; i++) {
            int32_t s = sums[i];
            int32_t v = s > 0 ? ps_div32(s + half, count) : -ps_div32(-s + half, count);
            v = v < lo ? lo : v;
            dst[i] = (int8_t)(v > hi ? hi : v);
        }
    }
}

/* First and one-past-last input index of a pooling window, clipped to [0, in). */
static inline void ps_pool_window(int32_t out_index, int32_t stride, int32_t pad, int32_t size,
                                  int32_t in, int32_t *lo, int32_t *hi)
{
    int32_t start = out_index * stride - pad;
    int32_t end = start + size;
    *lo = start < 0 ? 0 : start;
    *hi = end > in ? in : end;
}

#endif /* PS_INTERNAL_H */
