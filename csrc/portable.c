/*
 * PS_PATH_PORTABLE: the conv-like ops in C99 with loop orders compilers vectorise.
 *
 *  - conv2d and pointwise (and fully connected): each output pixel's receptive field is
 *    gathered once as int16 (x - input_zp) into a patch (padding taps as 0), then every
 *    output channel is one contiguous int16 x int8 dot product with its filter row:
 *    (x - zp) is computed once per tap instead of once per tap and output channel.
 *  - depthwise: channels innermost (contiguous in both the input and the filter).
 *
 * The patch and the accumulators live in small fixed stack buffers (PORT_K int16,
 * PORT_OC int32); longer patches are taken in chunks. Products and partial sums are
 * exact: every partial sum of (x - zp) * w terms is bounded by the accumulator check.
 */
#include "internal.h"
#include "pyshrink.h"
#include "requant.h"

#define PORT_K 256 /* patch elements per chunk */
#define PORT_OC 32 /* output channels per accumulator chunk */

typedef struct {
    int16_t patch[PORT_K];
    int32_t acc[PORT_OC];
} port_state;

static int32_t port_prepare(ps_conv_exec *ex, int32_t oc0)
{
    (void)oc0; /* nothing to pack: one chunk, every channel */
    ex->oc0 = 0;
    ex->oc1 = ex->op->out_c;
    return ex->oc1;
}

/* (x - zp) of elements [k0, k1) of the receptive field of the pixel whose window starts
 * at (iy0, ix0), in (ky, kx, ic) order; taps outside the input give 0. */
static void gather(const ps_conv_op *op, const int8_t *image, int32_t iy0, int32_t ix0,
                   int32_t k0, int32_t k1, int16_t *patch)
{
    const int32_t c = op->in_c;
    const int32_t zp = op->quant->input_zp;
    for (int32_t t = ps_div32(k0, c); t * c < k1; t++) {
        int32_t kx;
        const int32_t ky = ps_divmod32(t, op->kernel_w, &kx);
        const int32_t iy = iy0 + ky * op->dilation_h;
        const int32_t ix = ix0 + kx * op->dilation_w;
        const int32_t lo = t * c > k0 ? t * c : k0;
        const int32_t hi = t * c + c < k1 ? t * c + c : k1;
        int16_t *dst = patch + (lo - k0);
        if (iy < 0 || iy >= op->in_h || ix < 0 || ix >= op->in_w) {
            for (int32_t i = 0; i < hi - lo; i++) {
                dst[i] = 0;
            }
        } else {
            const int8_t *src = image + ((size_t)iy * op->in_w + ix) * c + (lo - t * c);
            for (int32_t i = 0; i < hi - lo; i++) {
                dst[i] = (int16_t)(src[i] - zp);
            }
        }
    }
}

static int32_t dot(const int16_t *a, const int8_t *b, int32_t n)
{
    int32_t s = 0;
    for (int32_t i = 0; i < n; i++) {
        s += (int32_t)a[i] * b[i];
    }
    return s;
}

static void gemm_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                     int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const ps_quant_params *q = op->quant;
    port_state *st = (port_state *)ex->state;
    const int32_t k_total = op->kernel_h * op->kernel_w * op->in_c;
    const int32_t out_c = op->out_c;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * op->in_c;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;

    for (int32_t ox = ox0; ox < ox1; ox++, dst += dst_stride) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        if (k_total <= PORT_K) {
            gather(op, image, iy0, ix0, 0, k_total, st->patch);
            const int8_t *w = op->filter;
            for (int32_t oc = 0; oc < out_c; oc++, w += k_total) {
                int32_t acc = (op->bias != NULL ? op->bias[oc] : 0) + dot(st->patch, w, k_total);
                dst[oc] = ps_requantize(acc, q->multiplier[oc], q->shift[oc], q);
            }
            continue;
        }
        for (int32_t oc0 = 0; oc0 < out_c; oc0 += PORT_OC) {
            const int32_t len = out_c - oc0 < PORT_OC ? out_c - oc0 : PORT_OC;
            for (int32_t j = 0; j < len; j++) {
                st->acc[j] = op->bias != NULL ? op->bias[oc0 + j] : 0;
            }
            for (int32_t k0 = 0; k0 < k_total; k0 += PORT_K) {
                const int32_t k1 = k_total - k0 < PORT_K ? k_total : k0 + PORT_K;
                gather(op, image, iy0, ix0, k0, k1, st->patch);
                for (int32_t j = 0; j < len; j++) {
                    st->acc[j] += dot(st->patch, op->filter + (size_t)(oc0 + j) * k_total + k0,
                                      k1 - k0);
                }
            }
            for (int32_t j = 0; j < len; j++) {
                const int32_t oc = oc0 + j;
                dst[oc] = ps_requantize(st->acc[j], q->multiplier[oc], q->shift[oc], q);
            }
        }
    }
}

static void depthwise_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0,
                          int32_t ox1, int8_t *dst, int32_t dst_stride)
{
    const ps_conv_op *op = ex->op;
    const ps_quant_params *q = op->quant;
    port_state *st = (port_state *)ex->state;
    const int32_t in_c = op->in_c, out_c = op->out_c, mult = op->depth_multiplier;
    const int32_t zp = q->input_zp;
    const int8_t *image = op->input + (size_t)n * op->in_h * op->in_w * in_c;
    const int32_t iy0 = oy * op->stride_h - op->pad_top;
    int32_t *acc = st->acc;

    for (int32_t ox = ox0; ox < ox1; ox++, dst += dst_stride) {
        const int32_t ix0 = ox * op->stride_w - op->pad_left;
        for (int32_t c0 = 0; c0 < out_c; c0 += PORT_OC) {
            const int32_t len = out_c - c0 < PORT_OC ? out_c - c0 : PORT_OC;
            for (int32_t j = 0; j < len; j++) {
                acc[j] = op->bias != NULL ? op->bias[c0 + j] : 0;
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
                    const int8_t *x = image + ((size_t)iy * op->in_w + ix) * in_c;
                    const int8_t *w = op->filter + ((size_t)ky * op->kernel_w + kx) * out_c + c0;
                    if (mult == 1) {
                        x += c0;
                        for (int32_t j = 0; j < len; j++) {
                            acc[j] += ((int32_t)x[j] - zp) * w[j];
                        }
                    } else {
                        for (int32_t j = 0; j < len; j++) {
                            acc[j] += ((int32_t)x[ps_div32(c0 + j, mult)] - zp) * w[j];
                        }
                    }
                }
            }
            for (int32_t j = 0; j < len; j++) {
                const int32_t oc = c0 + j;
                dst[oc] = ps_requantize(acc[j], q->multiplier[oc], q->shift[oc], q);
            }
        }
    }
}

void ps_conv_run_portable(const ps_conv_op *op, const ps_conv_job *job)
{
    port_state st;
    ps_conv_exec ex = {op, port_prepare, op->kind == PS_KIND_DEPTHWISE ? depthwise_row : gemm_row,
                       NULL, NULL, 0, 0, &st, NULL};
    ps_conv_drive(&ex, job);
}
