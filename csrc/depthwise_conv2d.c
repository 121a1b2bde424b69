/* int8 depthwise conv2d: output channel oc = ic * M + m reads input channel ic. */
#include "internal.h"
#include "pyshrink.h"
#include "requant.h"

ps_status ps_depthwise_conv2d_prepare(const ps_conv_params *conv, const ps_quant_params *quant,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, ps_conv_op *op)
{
    if (conv == NULL || input == NULL || filter == NULL || op == NULL) {
        return PS_ERR_NULL;
    }
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
