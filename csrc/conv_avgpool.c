/*
 * Fused convolution + average pooling: conv2d_avgpool, depthwise_conv2d_avgpool,
 * pointwise_conv2d_avgpool. Each equals avg_pool2d(conv(x)) byte for byte (the conv is
 * requantized and clamped to int8 first, then pooled), but the conv output is computed
 * tile by tile and never held whole:
 *
 *  - window mode, pool stride >= window on both axes (non-overlapping): each pooled
 *    pixel computes its window's conv pixels one window row at a time and sums them;
 *    scratch = C_out int32 sums + pool_w * C_out bytes, independent of the image size.
 *  - ring mode, overlapping pools: a ring of pool_h conv rows, each conv row computed
 *    once when the first window needs it; scratch = pool_h * W_conv * C_out bytes +
 *    C_out int32 sums, independent of the image height.
 *
 * Scratch layout: the int32 sums first (so the caller's buffer must be 4-byte aligned),
 * then the int8 tile.
 *
 * The conv rows come from the call's kernel path (ps_conv_exec); the drivers here are
 * shared by all paths. A path may prepare the output channels in chunks (when their
 * packed weights do not fit its stack buffers): the drivers then run once per chunk,
 * with the sums, tile and ring holding only the chunk's channels.
 */
#include <stdint.h>

#include "internal.h"
#include "pyshrink.h"

static int fused_window_mode(const ps_pool_params *pool)
{
    return pool->stride_h >= pool->pool_h && pool->stride_w >= pool->pool_w;
}

/* Scratch bytes for pool over a conv output of conv_w columns and c_out channels. */
/* Scratch bytes, or SIZE_MAX where they exceed what size_t addresses (a 32-bit target with a
 * wide image): no buffer is then large enough, so the kernel reports PS_ERR_SCRATCH rather
 * than trusting a wrapped size. Computed in 64 bits: pool_h < 2^24 (ps_pool_prepare) and
 * conv_w * c_out < 2^31 (one tensor's element limit). */
static size_t fused_scratch(const ps_pool_params *pool, int32_t conv_w, int32_t c_out)
{
    uint64_t sums = (uint64_t)c_out * sizeof(int32_t);
    uint64_t tile = fused_window_mode(pool)
                        ? ps_mul64((uint64_t)pool->pool_w, (uint64_t)c_out)
                        : ps_mul64(ps_mul64((uint64_t)pool->pool_h, (uint64_t)conv_w),
                                   (uint64_t)c_out);
    uint64_t total = sums + tile;
    return total > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)total;
}

static void add_pixels(int32_t *sums, const int8_t *tile, int32_t pixels, int32_t channels,
                       int32_t stride)
{
    for (int32_t p = 0; p < pixels; p++, tile += stride) {
        for (int32_t c = 0; c < channels; c++) {
            sums[c] += tile[c];
        }
    }
}

/* Channel chunks outermost (each prepared once), then pooled pixels; every pooled pixel
 * sums its window's conv pixels and averages them: a pooled row per call where the path
 * has pooled_row, else one window row at a time through the tile. */
static void run_window_mode(ps_conv_exec *ex, const ps_conv_job *job)
{
    const ps_conv_op *op = ex->op;
    const ps_pool_params *pool = job->pool;
    const int32_t c_out = op->out_c;
    int32_t *sums = job->sums;
    for (int32_t oc0 = 0; oc0 < c_out; oc0 = ex->oc1) {
        ex->prepare(ex, oc0);
        const int32_t cc = ex->oc1 - oc0;
        int8_t *output = job->output + oc0;
        for (int32_t n = 0; n < op->batch; n++) {
            for (int32_t py = 0; py < job->pooled_h; py++) {
                int32_t y0, y1;
                ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, op->out_h, &y0,
                               &y1);
                if (ex->pooled_row != NULL) {
                    ex->pooled_row(ex, n, y0, y1, pool, job->pooled_w, job->tile, sums, output,
                                   c_out);
                    output += (size_t)job->pooled_w * c_out;
                    continue;
                }
                for (int32_t px = 0; px < job->pooled_w; px++) {
                    int32_t x0, x1;
                    ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w,
                                   &x0, &x1);
                    for (int32_t c = 0; c < cc; c++) {
                        sums[c] = 0;
                    }
                    for (int32_t y = y0; y < y1; y++) {
                        ex->row(ex, n, y, x0, x1, job->tile, cc);
                        add_pixels(sums, job->tile, x1 - x0, cc, cc);
                    }
                    ps_pool_average_run(sums, (y1 - y0) * (x1 - x0), cc, pool, output);
                    output += c_out;
                }
            }
        }
    }
}

/* Overlapping pools: a ring of pool_h conv rows (of the chunk's channels), each conv row
 * computed once, when the first window that needs it comes. */
static void run_ring_mode(ps_conv_exec *ex, const ps_conv_job *job)
{
    const ps_conv_op *op = ex->op;
    const ps_pool_params *pool = job->pool;
    const int32_t c_out = op->out_c;
    int32_t *sums = job->sums;
    int8_t *ring = job->tile;
    for (int32_t oc0 = 0; oc0 < c_out; oc0 = ex->oc1) {
        ex->prepare(ex, oc0);
        const int32_t cc = ex->oc1 - oc0;
        const size_t row_bytes = (size_t)op->out_w * cc;
        int8_t *output = job->output + oc0;
        for (int32_t n = 0; n < op->batch; n++) {
            int32_t next_row = 0; /* conv rows below this one are (or were) in the ring */
            for (int32_t py = 0; py < job->pooled_h; py++) {
                int32_t y0, y1;
                ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, op->out_h, &y0,
                               &y1);
                /* Windows only move down and span <= pool_h rows, so the slot y % pool_h of
                 * a row still needed is never overwritten by a newer one. */
                for (int32_t y = next_row > y0 ? next_row : y0; y < y1; y++) {
                    ex->row(ex, n, y, 0, op->out_w,
                            ring + (size_t)ps_mod32(y, pool->pool_h) * row_bytes, cc);
                }
                next_row = y1 > next_row ? y1 : next_row;
                if (ex->ring_row != NULL) {
                    ex->ring_row(ex, ring, row_bytes, y0, y1, cc, pool, job->pooled_w, sums, output,
                                 c_out);
                    output += (size_t)job->pooled_w * c_out;
                    continue;
                }
                for (int32_t px = 0; px < job->pooled_w; px++) {
                    int32_t x0, x1;
                    ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, op->out_w,
                                   &x0, &x1);
                    if (ex->ring_window != NULL) {
                        ex->ring_window(ring, row_bytes, pool->pool_h, y0, y1, x0, x1, cc, pool,
                                        sums, output);
                        output += c_out;
                        continue;
                    }
                    for (int32_t c = 0; c < cc; c++) {
                        sums[c] = 0;
                    }
                    for (int32_t y = y0; y < y1; y++) {
                        const int8_t *conv_row =
                            ring + (size_t)ps_mod32(y, pool->pool_h) * row_bytes;
                        add_pixels(sums, conv_row + (size_t)x0 * cc, x1 - x0, cc, cc);
                    }
                    ps_pool_average_run(sums, (y1 - y0) * (x1 - x0), cc, pool, output);
                    output += c_out;
                }
            }
        }
    }
}

void ps_fused_drive(ps_conv_exec *ex, const ps_conv_job *job)
{
    if (fused_window_mode(job->pool)) {
        run_window_mode(ex, job);
    } else {
        run_ring_mode(ex, job);
    }
}

/* Validates the pool half, the output and the scratch, and fills *job. It returns before
 * the kernel runs, so its frame is not on the kernel's call chain: the entry functions
 * below call ps_conv_execute themselves, and a fused call's deepest stack stays within an
 * unfused call's (a firmware's RAM counts the deepest chain). */
static ps_status fused_job(const ps_conv_op *op, const ps_pool_params *pool,
                           const ps_dims *output_dims, int8_t *output, void *scratch,
                           size_t scratch_bytes, ps_conv_job *job)
{
    int32_t pooled_h, pooled_w;
    PS_RETURN_IF_ERROR(ps_pool_prepare(pool, op->out_h, op->out_w, &pooled_h, &pooled_w));
    PS_RETURN_IF_ERROR(ps_check_output_dims(output_dims, op->batch, pooled_h, pooled_w, op->out_c));
    if (output == NULL || scratch == NULL) {
        return PS_ERR_NULL;
    }
    if (scratch_bytes < fused_scratch(pool, op->out_w, op->out_c) ||
        ((uintptr_t)scratch % sizeof(int32_t)) != 0) {
        return PS_ERR_SCRATCH;
    }
    int32_t *sums = (int32_t *)scratch;
    job->output = output;
    job->pool = pool;
    job->pooled_h = pooled_h;
    job->pooled_w = pooled_w;
    job->sums = sums;
    job->tile = (int8_t *)(sums + op->out_c);
    return PS_OK;
}

/* Conv output width and channels from shapes alone, for the *_scratch_size functions;
 * 0 where the arguments are invalid (the kernel itself then reports why). */
static size_t fused_scratch_for(const ps_pool_params *pool, int32_t conv_w, int32_t c_out)
{
    if (pool == NULL || pool->pool_h < 1 || pool->pool_w < 1 || pool->stride_h < 1 ||
        pool->stride_w < 1 || conv_w < 1 || c_out < 1) {
        return 0;
    }
    return fused_scratch(pool, conv_w, c_out);
}

size_t ps_conv2d_avgpool_scratch_size(const ps_conv_params *conv, const ps_pool_params *pool,
                                      const ps_dims *input_dims, const ps_dims *filter_dims)
{
    if (conv == NULL || input_dims == NULL || filter_dims == NULL) {
        return 0;
    }
    int32_t conv_w = ps_output_size(input_dims->w, filter_dims->w, conv->stride_w,
                                    conv->dilation_w, conv->pad_left, conv->pad_right);
    return fused_scratch_for(pool, conv_w, filter_dims->n);
}

size_t ps_depthwise_conv2d_avgpool_scratch_size(const ps_conv_params *conv,
                                                const ps_pool_params *pool,
                                                const ps_dims *input_dims,
                                                const ps_dims *filter_dims)
{
    if (conv == NULL || input_dims == NULL || filter_dims == NULL) {
        return 0;
    }
    int32_t conv_w = ps_output_size(input_dims->w, filter_dims->w, conv->stride_w,
                                    conv->dilation_w, conv->pad_left, conv->pad_right);
    return fused_scratch_for(pool, conv_w, filter_dims->c);
}

size_t ps_pointwise_conv2d_avgpool_scratch_size(const ps_pool_params *pool,
                                                const ps_dims *input_dims,
                                                const ps_dims *filter_dims)
{
    if (input_dims == NULL || filter_dims == NULL) {
        return 0;
    }
    return fused_scratch_for(pool, input_dims->w, filter_dims->n);
}

ps_status ps_conv2d_avgpool(const ps_conv_params *conv, const ps_quant_params *quant,
                            const ps_pool_params *pool,
                            const ps_dims *input_dims, const int8_t *input,
                            const ps_dims *filter_dims, const int8_t *filter,
                            const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                            void *scratch, size_t scratch_bytes)
{
    ps_conv_op op;
    PS_RETURN_IF_ERROR(
        ps_conv2d_prepare(conv, quant, input_dims, input, filter_dims, filter, bias, &op));
    ps_conv_job job;
    PS_RETURN_IF_ERROR(fused_job(&op, pool, output_dims, output, scratch, scratch_bytes, &job));
    ps_conv_execute(&op, &job);
    return PS_OK;
}

ps_status ps_depthwise_conv2d_avgpool(const ps_conv_params *conv, const ps_quant_params *quant,
                                      const ps_pool_params *pool,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const ps_dims *output_dims,
                                      int8_t *output, void *scratch, size_t scratch_bytes)
{
    ps_conv_op op;
    PS_RETURN_IF_ERROR(ps_depthwise_conv2d_prepare(conv, quant, input_dims, input, filter_dims,
                                                   filter, bias, &op));
    ps_conv_job job;
    PS_RETURN_IF_ERROR(fused_job(&op, pool, output_dims, output, scratch, scratch_bytes, &job));
    ps_conv_execute(&op, &job);
    return PS_OK;
}

ps_status ps_pointwise_conv2d_avgpool(const ps_quant_params *quant, const ps_pool_params *pool,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const ps_dims *output_dims,
                                      int8_t *output, void *scratch, size_t scratch_bytes)
{
    ps_conv_op op;
    PS_RETURN_IF_ERROR(
        ps_pointwise_conv2d_prepare(quant, input_dims, input, filter_dims, filter, bias, &op));
    ps_conv_job job;
    PS_RETURN_IF_ERROR(fused_job(&op, pool, output_dims, output, scratch, scratch_bytes, &job));
    ps_conv_execute(&op, &job);
    return PS_OK;
}
