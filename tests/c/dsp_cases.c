/*
 * A firmware "model" for tests/test_dsp_qemu.py: each input record is one conv-like kernel
 * call with random parameters (packed by the test), run on the kernel path the record
 * names; the output record is the status, the path PS_PATH_AUTO resolves to in this build,
 * the scratch size the core asks for, and the output bytes. Linked with pyshrink's
 * firmware harness (ps_fw_qemu_main.c), which reads the records over semihosting and
 * prints every output, so one QEMU run covers many cases.
 *
 * Record (little-endian): int32 header[DSPCASES_HEADER], then x, w (each padded to a
 * multiple of 4 bytes), then int32 bias[c_out] (when has_bias), multiplier[c_out],
 * shift[c_out].
 */
#include <stdint.h>
#include <string.h>

#include "dspcases.h"
#include "pyshrink.h"

enum {
    H_OP = 0, /* 0 conv2d, 1 depthwise, 2 pointwise, 3 fully connected, 4-6 their _avgpool */
    H_PATH = 1,
    H_X = 2,  /* dims n, h, w, c */
    H_W = 6,  /* dims */
    H_Y = 10, /* dims */
    H_CONV = 14, /* stride h, w, dilation h, w, pad top, bottom, left, right, depth multiplier */
    H_QUANT = 23, /* input_zp, output_zp, act_min, act_max, requant, has_bias */
    H_POOL = 29, /* pool h, w, stride h, w, pad top, bottom, left, right, rounding, act min, max */
    H_XBYTES = 40,
    H_WBYTES = 41,
    H_COUT = 42,
    DSPCASES_HEADER = 48
};

#define MAX_CHANNELS 512
#define SCRATCH_WORDS 2048

/* The harness's buffers are not the core's: test-only statics are fine here. */
static int32_t header[DSPCASES_HEADER];
static int32_t bias[MAX_CHANNELS], mult[MAX_CHANNELS], shift[MAX_CHANNELS];
static int32_t scratch[SCRATCH_WORDS];

static ps_dims dims_at(int at)
{
    ps_dims d = {header[at], header[at + 1], header[at + 2], header[at + 3]};
    return d;
}

static void put32(int8_t *out, int32_t v)
{
    memcpy(out, &v, 4);
}

int dspcases_invoke(const int8_t *input, int8_t *output)
{
    memcpy(header, input, sizeof header);
    const int32_t xbytes = header[H_XBYTES], wbytes = header[H_WBYTES], cout = header[H_COUT];
    const int8_t *x = input + sizeof header;
    const int8_t *w = x + ((xbytes + 3) & ~3);
    const int8_t *tail = w + ((wbytes + 3) & ~3);
    const int has_bias = header[H_QUANT + 5];
    if (cout > MAX_CHANNELS) {
        return 100;
    }
    if (has_bias) {
        memcpy(bias, tail, (size_t)cout * 4);
        tail += (size_t)cout * 4;
    }
    memcpy(mult, tail, (size_t)cout * 4);
    memcpy(shift, tail + (size_t)cout * 4, (size_t)cout * 4);

    const ps_dims xd = dims_at(H_X), wd = dims_at(H_W), yd = dims_at(H_Y);
    const int32_t *c = header + H_CONV, *q = header + H_QUANT, *p = header + H_POOL;
    const ps_conv_params conv = {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]};
    const ps_quant_params quant = {q[0], q[1], mult, shift, q[2], q[3], (ps_requant_mode)q[4],
                                   (ps_kernel_path)header[H_PATH]};
    const ps_pool_params pool = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7],
                                 (ps_pool_rounding)p[8], p[9], p[10], PS_PATH_AUTO};
    const int32_t *b = has_bias ? bias : NULL;
    int8_t *y = output + 12;
    size_t need = 0;
    ps_status st = PS_ERR_PARAM;
    switch (header[H_OP]) {
    case 0:
        need = ps_conv2d_scratch_size(&conv, &xd, &wd);
        st = ps_conv2d(&conv, &quant, &xd, x, &wd, w, b, &yd, y, scratch, need);
        break;
    case 1:
        need = ps_depthwise_conv2d_scratch_size(&conv, &xd, &wd);
        st = ps_depthwise_conv2d(&conv, &quant, &xd, x, &wd, w, b, &yd, y, scratch, need);
        break;
    case 2:
        need = ps_pointwise_conv2d_scratch_size(&xd, &wd);
        st = ps_pointwise_conv2d(&quant, &xd, x, &wd, w, b, &yd, y, scratch, need);
        break;
    case 3:
        need = ps_fully_connected_scratch_size(&xd, &wd);
        st = ps_fully_connected(&quant, &xd, x, &wd, w, b, &yd, y, scratch, need);
        break;
    case 4:
        need = ps_conv2d_avgpool_scratch_size(&conv, &pool, &xd, &wd);
        st = need > sizeof scratch
                 ? PS_ERR_SCRATCH
                 : ps_conv2d_avgpool(&conv, &quant, &pool, &xd, x, &wd, w, b, &yd, y, scratch, need);
        break;
    case 5:
        need = ps_depthwise_conv2d_avgpool_scratch_size(&conv, &pool, &xd, &wd);
        st = need > sizeof scratch
                 ? PS_ERR_SCRATCH
                 : ps_depthwise_conv2d_avgpool(&conv, &quant, &pool, &xd, x, &wd, w, b, &yd, y,
                                               scratch, need);
        break;
    case 6:
        need = ps_pointwise_conv2d_avgpool_scratch_size(&pool, &xd, &wd);
        st = need > sizeof scratch
                 ? PS_ERR_SCRATCH
                 : ps_pointwise_conv2d_avgpool(&quant, &pool, &xd, x, &wd, w, b, &yd, y, scratch,
                                               need);
        break;
    default:
        break;
    }
    put32(output, (int32_t)st);
    put32(output + 4, (int32_t)ps_kernel_path_resolve(PS_PATH_AUTO));
    put32(output + 8, (int32_t)need);
    return 0;
}
