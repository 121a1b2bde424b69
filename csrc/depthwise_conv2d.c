/* int8 depthwise conv2d: output channel oc = ic * M + m reads input channel ic. */
#include "internal.h"
#include "pyshrink.h"
#include "requant.h"

/* Dims, geometry parameters and the filter's shape against the input's. */
static ps_status check_geometry(const ps_conv_params *conv, const ps_dims *input_dims,
                                const ps_dims *filter_dims)
{
    PS_RETURN_IF_ERROR(ps_check_dims(input_dims));
    PS_RETURN_IF_ERROR(ps_check_dims(filter_dims));
    if (conv->depth_multiplier < 1 || conv->stride_h < 1 || conv->stride_w < 1 ||
        conv->dilation_h < 1 || conv->dilation_w < 1 || conv->pad_top < 0 ||
        conv->pad_bottom < 0 || conv->pad_left < 0 || conv->pad_right < 0) {
        return PS_ERR_PARAM;
    }
    if (filter_dims->n != 1 ||
        (int64_t)filter_dims->c != ps_smull(input_dims->c, conv->depth_multiplier)) {
        return PS_ERR_SHAPE;
    }
    return PS_OK;
}

ps_status ps_depthwise_conv2d_prepare(const ps_conv_params *conv, const ps_quant_params *quant,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, ps_conv_op *op)
{
    if (conv == NULL || input == NULL || filter == NULL || op == NULL) {
        return PS_ERR_NULL;
    }
    PS_RETURN_IF_ERROR(check_geometry(conv, input_dims, filter_dims));
    int32_t c_out = filter_dims->c;
    PS_RETURN_IF_ERROR(ps_check_quant(quant, c_out));
    int32_t out_h = ps_output_size(input_dims->h, filter_dims->h, conv->stride_h,
                                   conv->dilation_h, conv->pad_top, conv->pad_bottom);
    int32_t out_w = ps_output_size(input_dims->w, filter_dims->w, conv->stride_w,
                                   conv->dilation_w, conv->pad_left, conv->pad_right);
    if (out_h < 1 || out_w < 1) {
        return PS_ERR_OUTPUT_SIZE;
    }
    ps_dims out = {input_dims->n, out_h, out_w, c_out};
    if (ps_check_dims(&out) != PS_OK) {
        return PS_ERR_OUTPUT_SIZE;
    }
    /* channel oc's taps are filter[t * c_out + oc] */
    PS_RETURN_IF_ERROR(ps_resolve_path(quant->path, &op->path));
    PS_RETURN_IF_ERROR(ps_check_accumulator_path(op->path, filter, c_out,
                                                 filter_dims->h * filter_dims->w, 1, c_out, bias,
                                                 quant->input_zp));

    op->kind = PS_KIND_DEPTHWISE;
    op->batch = input_dims->n;
    op->quant = quant;
    op->input = input;
    op->filter = filter;
    op->bias = bias;
    op->in_h = input_dims->h;
    op->in_w = input_dims->w;
    op->in_c = input_dims->c;
    op->out_h = out_h;
    op->out_w = out_w;
    op->out_c = c_out;
    op->kernel_h = filter_dims->h;
    op->kernel_w = filter_dims->w;
    op->stride_h = conv->stride_h;
    op->stride_w = conv->stride_w;
    op->dilation_h = conv->dilation_h;
    op->dilation_w = conv->dilation_w;
    op->pad_top = conv->pad_top;
    op->pad_left = conv->pad_left;
    op->depth_multiplier = conv->depth_multiplier;
    return PS_OK;
}

void ps_depthwise_conv2d_row(const ps_conv_op *op, int32_t n, int32_t oy, int32_t ox0,
                             int32_t ox1, int8_t *dst)
{
    const ps_quant_params *q = op->quant;
    const int32_t in_c = op->in_c;
    const int32_t out_c = op->out_c;
    const int32_t mult = op->depth_multiplier;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * in_c;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;

    for (int32_t ox = ox0; ox < ox1; ox++) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        for (int32_t oc = 0; oc < out_c; oc++) {
            const int32_t ic = ps_div32(oc, mult);
            int32_t acc = op->bias != NULL ? op->bias[oc] : 0;
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
                    int32_t x = image[((size_t)iy * op->in_w + ix) * in_c + ic];
                    int32_t w = op->filter[((size_t)ky * op->kernel_w + kx) * out_c + oc];
                    acc += (x - q->input_zp) * w;
                }
            }
            *dst++ = ps_requantize(acc, q->multiplier[oc], q->shift[oc], q);
        }
    }
}

size_t ps_depthwise_conv2d_scratch_size(const ps_conv_params *conv, const ps_dims *input_dims,
                                        const ps_dims *filter_dims)
{
    (void)conv;
    (void)input_dims;
    (void)filter_dims;
    return 0;
}

ps_status ps_depthwise_conv2d(const ps_conv_params *conv, const ps_quant_params *quant,
                              const ps_dims *input_dims, const int8_t *input,
                              const ps_dims *filter_dims, const int8_t *filter,
                              const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                              void *scratch, size_t scratch_bytes)
{
    (void)scratch;
    (void)scratch_bytes; /* every path works in bounded stack buffers */
    ps_conv_op op;
    PS_RETURN_IF_ERROR(ps_depthwise_conv2d_prepare(conv, quant, input_dims, input, filter_dims,
                                                   filter, bias, &op));
    PS_RETURN_IF_ERROR(ps_check_output_dims(output_dims, input_dims->n, op.out_h, op.out_w,
                                            op.out_c));
    if (output == NULL) {
        return PS_ERR_NULL;
    }
    ps_conv_job job = {output, NULL, 0, 0, NULL, NULL};
    ps_conv_execute(&op, &job);
    return PS_OK;
}

/* ---- in place ------------------------------------------------------------------------
 * With depth multiplier 1 output channel c reads only input channel c, and every path
 * writes the pixels of each channel chunk in increasing q = (n * out_h + y) * out_w + x,
 * each one after reading all of its taps (internal.h). Output pixel q at D = k * C bytes
 * before the input lands on input pixel q - k, same channel; so every input byte is read
 * before it is overwritten iff no earlier output q' < q lands on a pixel q reads, i.e.
 * k >= q - first(q) for every q, first(q) the lowest input pixel index
 * (n * in_h + iy) * in_w + ix that q reads. The taps inside the input are a product of a
 * row range and a column range, so q - first(q) splits into independent terms:
 *   n * (out_h * out_w - in_h * in_w) + (y * out_w - iy0(y) * in_w) + (x - ix0(x)). */

/* The first input index o * stride - pad + i * dilation (i < kernel) inside [0, in), or -1.
 * o * stride <= the padded extent <= INT32_MAX (ps_output_size), so start fits int32, and
 * so does the index: it is start, or below dilation. 32-bit arithmetic only (arith.h: no
 * libgcc helper on Cortex-M0+). */
static int32_t first_tap(int32_t o, int32_t in, int32_t kernel, int32_t stride, int32_t dilation,
                         int32_t pad)
{
    const int32_t start = o * stride - pad;
    /* ceil(-start / dilation) */
    const uint32_t i = start < 0 ? ps_udiv32((uint32_t)(-(start + 1)), (uint32_t)dilation) + 1u : 0u;
    if (i >= (uint32_t)kernel) {
        return -1;
    }
    const int32_t pos = ps_s32((uint32_t)start + i * (uint32_t)dilation); /* exact: fits int32 */
    return pos < in ? pos : -1;
}

/* max over outputs o < out that read some input of o * out_step - first_tap(o) * in_step;
 * 0 and *any = 0 if no output reads anything. One pass over the axis. */
static int64_t axis_lead(int32_t out, int32_t in, int32_t kernel, int32_t stride,
                         int32_t dilation, int32_t pad, int32_t out_step, int32_t in_step,
                         int *any)
{
    int64_t lead = 0;
    *any = 0;
    for (int32_t o = 0; o < out; o++) {
        const int32_t first = first_tap(o, in, kernel, stride, dilation, pad);
        if (first < 0) {
            continue; /* every tap in the padding: reads nothing */
        }
        const int64_t v = ps_smull(o, out_step) - ps_smull(first, in_step);
        if (!*any || v > lead) {
            lead = v;
        }
        *any = 1;
    }
    return lead;
}

ps_status ps_depthwise_conv2d_inplace_offset(const ps_conv_params *conv,
                                             const ps_dims *input_dims,
                                             const ps_dims *filter_dims, size_t *offset)
{
    if (conv == NULL || input_dims == NULL || filter_dims == NULL || offset == NULL) {
        return PS_ERR_NULL;
    }
    PS_RETURN_IF_ERROR(check_geometry(conv, input_dims, filter_dims));
    const int32_t out_h = ps_output_size(input_dims->h, filter_dims->h, conv->stride_h,
                                         conv->dilation_h, conv->pad_top, conv->pad_bottom);
    const int32_t out_w = ps_output_size(input_dims->w, filter_dims->w, conv->stride_w,
                                         conv->dilation_w, conv->pad_left, conv->pad_right);
    if (out_h < 1 || out_w < 1) {
        return PS_ERR_OUTPUT_SIZE;
    }
    ps_dims out = {input_dims->n, out_h, out_w, filter_dims->c};
    if (ps_check_dims(&out) != PS_OK) {
        return PS_ERR_OUTPUT_SIZE;
    }
    if (conv->depth_multiplier != 1) {
        return PS_ERR_PARAM; /* output channel oc reads input channel oc / M: not channel-local */
    }
    int rows, cols;
    const int64_t row_lead = axis_lead(out_h, input_dims->h, filter_dims->h, conv->stride_h,
                                       conv->dilation_h, conv->pad_top, out_w, input_dims->w, &rows);
    const int64_t col_lead = axis_lead(out_w, input_dims->w, filter_dims->w, conv->stride_w,
                                       conv->dilation_w, conv->pad_left, 1, 1, &cols);
    int64_t k = 0;
    if (rows && cols) {
        /* the batch term is largest at n = 0 or n = N - 1; when it grows, N * out_h * out_w
         * <= INT32_MAX bounds both factors */
        const int64_t grow = ps_smull(out_h, out_w) - ps_smull(input_dims->h, input_dims->w);
        k = (grow > 0 ? ps_smull(input_dims->n - 1, (int32_t)grow) : 0) + row_lead + col_lead;
    }
    /* k <= q < N * out_h * out_w, so k * C < the output's element count <= INT32_MAX */
    *offset = k > 0 ? (size_t)k * (size_t)input_dims->c : 0u;
    return PS_OK;
}
