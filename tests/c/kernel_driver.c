/*
 * A C-only driver for the pyshrink kernels, made to run under valgrind memcheck (and, built
 * with -fsanitize=address,undefined, under the sanitizers). tests/test_valgrind.py compiles it
 * against every csrc .c file with the host cc and runs it.
 *
 *   cc -std=c99 -O1 -g -Icsrc csrc/[a-z]*.c tests/c/kernel_driver.c -o kernel_driver; ./kernel_driver
 *
 * Every buffer a kernel sees (input, filter, bias, multipliers, shifts, output, scratch) is
 * its own malloc block of exactly the size the kernel may use (scratch: exactly the bytes
 * *_scratch_size() asks for), and outputs and scratch are left uninitialised, so memcheck
 * reports any read or write past a buffer, any read of scratch before it was written, and
 * (when the driver compares outputs) any output byte a kernel left unwritten.
 *
 * What runs:
 *  - known answers worked out by hand (requantization, padding, pooling roundings, fused,
 *    softmax, quantize_multiplier, output sizes);
 *  - edge shapes for every conv-like kernel, unfused and fused with average pooling: 1x1
 *    images, padding larger than the kernel (outputs made of padding only), pools that do
 *    not divide the conv output, overlapping pools (ring mode) and non-overlapping ones
 *    (window mode), batch > 1, depth multipliers, dilation, receptive fields and channel
 *    counts around the SIMD paths' chunk limits; then seeded random layers;
 *    on every kernel path this build and CPU support (ref, portable, avx2, avx512, dsp, auto),
 *    each compared byte for byte with the reference path, and each fused result with
 *    ps_avg_pool2d of the reference conv output; depthwise layers with multiplier 1 also in
 *    place (output ps_depthwise_conv2d_inplace_offset() bytes before the input);
 *  - the status paths: every NULL pointer, scratch one byte short, misaligned scratch,
 *    out-of-range parameters, mismatched dims, accumulator overflow; a rejected call must
 *    leave its output untouched.
 * Prints one summary line and a digest (FNV-1a) of every reference-path output and status, so
 * that two builds of the core (natively and with -DPS_SOFT_ARITH, the ARMv6-M arithmetic of
 * csrc/arith.h) can be compared byte for byte; exit status 0 only if every check passed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pyshrink.h"

static long checks, failures, kernel_calls;
static uint64_t digest = UINT64_C(0xcbf29ce484222325);

/* folds n bytes into the digest (FNV-1a) */
static void fold(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        digest = (digest ^ b[i]) * UINT64_C(0x100000001b3);
    }
}

static void fold_status(ps_status st)
{
    const uint8_t b = (uint8_t)st;
    fold(&b, 1);
}

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        checks++;                                                             \
        if (!(cond)) {                                                        \
            failures++;                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define CHECK_STATUS(got, want, what)                                                   \
    CHECK((got) == (want), "%s: status %d (%s), expected %d (%s)", (what), (int)(got),  \
          ps_status_message(got), (int)(want), ps_status_message(want))

/* ---- helpers ----------------------------------------------------------------------------- */

static uint32_t rng_state = 0x9E3779B9u;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* uniform in [lo, hi] */
static int32_t rnd_in(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1));
}

/* exactly n bytes (n may be 0: a block nobody may touch), never NULL */
static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 0 : n);
    if (p == NULL && n == 0) {
        p = malloc(1);
    }
    if (p == NULL) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(2);
    }
    return p;
}

static int8_t *random_int8(size_t n, int lo, int hi)
{
    int8_t *p = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        p[i] = (int8_t)rnd_in(lo, hi);
    }
    return p;
}

/* The IEEE-754 bits of a float, as ps_softmax_prepare takes it (the driver is host code). */
static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static size_t dims_count(const ps_dims *d)
{
    return (size_t)d->n * (size_t)d->h * (size_t)d->w * (size_t)d->c;
}

static const ps_kernel_path ALL_PATHS[] = {PS_PATH_REF, PS_PATH_PORTABLE, PS_PATH_AVX2,
                                           PS_PATH_AVX512, PS_PATH_DSP, PS_PATH_AUTO};
static const char *const PATH_NAMES[] = {"auto", "ref", "portable", "avx2", "avx512", "dsp"};
#define N_PATHS (sizeof ALL_PATHS / sizeof ALL_PATHS[0])

/* ---- one conv-like layer, optionally fused with an average pool ------------------------- */

typedef enum { K_CONV = 0, K_DW = 1, K_PW = 2, K_FC = 3 } kind_t;
static const char *const KIND_NAMES[] = {"conv2d", "depthwise_conv2d", "pointwise_conv2d",
                                         "fully_connected"};

typedef struct {
    const char *name;
    kind_t kind;
    ps_dims in;           /* FC: {N, 1, 1, features} */
    int32_t kh, kw;       /* conv / depthwise kernel */
    int32_t c_out;        /* conv, pointwise: filters; fc: units; depthwise: ignored */
    ps_conv_params conv;  /* depthwise: depth_multiplier too */
    int pooled;           /* 1: also run the fused kernel with `pool` */
    ps_pool_params pool;
    int32_t in_zp, out_zp, act_min, act_max;
    ps_requant_mode requant;
    int no_bias;
} layer_t;

typedef struct {
    ps_dims filter_dims, conv_out, pooled_out;
    int32_t c_out;
    int8_t *x, *w;
    int32_t *bias, *mult, *shift;
    ps_quant_params quant;
} built_t;

static int32_t layer_c_out(const layer_t *L)
{
    return L->kind == K_DW ? L->in.c * L->conv.depth_multiplier : L->c_out;
}

/* Tensors for L (random, seeded) and its output sizes; 0 if the conv output would be empty. */
static int build(const layer_t *L, built_t *b)
{
    memset(b, 0, sizeof *b);
    const int32_t c_out = b->c_out = layer_c_out(L);
    int32_t oh = 1, ow = 1;
    switch (L->kind) {
    case K_CONV:
        b->filter_dims = (ps_dims){c_out, L->kh, L->kw, L->in.c};
        break;
    case K_DW:
        b->filter_dims = (ps_dims){1, L->kh, L->kw, c_out};
        break;
    case K_PW:
    case K_FC:
        b->filter_dims = (ps_dims){c_out, 1, 1, L->in.c};
        break;
    }
    if (L->kind == K_CONV || L->kind == K_DW) {
        oh = ps_output_size(L->in.h, L->kh, L->conv.stride_h, L->conv.dilation_h, L->conv.pad_top,
                            L->conv.pad_bottom);
        ow = ps_output_size(L->in.w, L->kw, L->conv.stride_w, L->conv.dilation_w, L->conv.pad_left,
                            L->conv.pad_right);
    } else if (L->kind == K_PW) {
        oh = L->in.h;
        ow = L->in.w;
    }
    if (oh < 1 || ow < 1) {
        return 0;
    }
    b->conv_out = (ps_dims){L->in.n, oh, ow, c_out};
    if (L->pooled) {
        int32_t ph = ps_output_size(oh, L->pool.pool_h, L->pool.stride_h, 1, L->pool.pad_top,
                                    L->pool.pad_bottom);
        int32_t pw = ps_output_size(ow, L->pool.pool_w, L->pool.stride_w, 1, L->pool.pad_left,
                                    L->pool.pad_right);
        b->pooled_out = (ps_dims){L->in.n, ph < 1 ? 1 : ph, pw < 1 ? 1 : pw, c_out};
    }
    b->x = random_int8(dims_count(&L->in), -128, 127);
    b->w = random_int8(dims_count(&b->filter_dims), -127, 127);
    b->mult = xmalloc((size_t)c_out * sizeof(int32_t));
    b->shift = xmalloc((size_t)c_out * sizeof(int32_t));
    b->bias = L->no_bias ? NULL : xmalloc((size_t)c_out * sizeof(int32_t));
    for (int32_t oc = 0; oc < c_out; oc++) {
        /* mostly realistic scales, and now and then the extremes: a zero multiplier, the
         * largest left shift (explicit int32 wrap), the largest right shift */
        int32_t pick = rnd_in(0, 15);
        b->mult[oc] = pick == 0 ? 0 : (int32_t)((UINT32_C(1) << 30) + (rnd() >> 2));
        b->shift[oc] = pick == 1 ? 30 : pick == 2 ? -31 : rnd_in(-12, 0);
        if (b->bias != NULL) {
            b->bias[oc] = rnd_in(-20000, 20000);
        }
    }
    b->quant = (ps_quant_params){L->in_zp, L->out_zp, b->mult, b->shift, L->act_min, L->act_max,
                                 L->requant, PS_PATH_AUTO};
    return 1;
}

static void release(built_t *b)
{
    free(b->x);
    free(b->w);
    free(b->bias);
    free(b->mult);
    free(b->shift);
}

/* The unfused kernel of L on `path` into a fresh exact-size output (returned; *status). */
static int8_t *run_conv(const layer_t *L, built_t *b, ps_kernel_path path, ps_status *status)
{
    b->quant.path = path;
    int8_t *y = xmalloc(dims_count(&b->conv_out));
    size_t need = 0;
    switch (L->kind) {
    case K_CONV:
        need = ps_conv2d_scratch_size(&L->conv, &L->in, &b->filter_dims);
        break;
    case K_DW:
        need = ps_depthwise_conv2d_scratch_size(&L->conv, &L->in, &b->filter_dims);
        break;
    case K_PW:
        need = ps_pointwise_conv2d_scratch_size(&L->in, &b->filter_dims);
        break;
    case K_FC:
        need = ps_fully_connected_scratch_size(&L->in, &b->filter_dims);
        break;
    }
    void *scratch = xmalloc(need);
    kernel_calls++;
    switch (L->kind) {
    case K_CONV:
        *status = ps_conv2d(&L->conv, &b->quant, &L->in, b->x, &b->filter_dims, b->w, b->bias,
                            &b->conv_out, y, scratch, need);
        break;
    case K_DW:
        *status = ps_depthwise_conv2d(&L->conv, &b->quant, &L->in, b->x, &b->filter_dims, b->w,
                                      b->bias, &b->conv_out, y, scratch, need);
        break;
    case K_PW:
        *status = ps_pointwise_conv2d(&b->quant, &L->in, b->x, &b->filter_dims, b->w, b->bias,
                                      &b->conv_out, y, scratch, need);
        break;
    case K_FC:
        *status = ps_fully_connected(&b->quant, &L->in, b->x, &b->filter_dims, b->w, b->bias,
                                     &b->conv_out, y, scratch, need);
        break;
    }
    free(scratch);
    return y;
}

static size_t fused_scratch_size(const layer_t *L, const built_t *b, const ps_pool_params *pool)
{
    switch (L->kind) {
    case K_CONV:
        return ps_conv2d_avgpool_scratch_size(&L->conv, pool, &L->in, &b->filter_dims);
    case K_DW:
        return ps_depthwise_conv2d_avgpool_scratch_size(&L->conv, pool, &L->in, &b->filter_dims);
    default:
        return ps_pointwise_conv2d_avgpool_scratch_size(pool, &L->in, &b->filter_dims);
    }
}

static ps_status call_fused(const layer_t *L, built_t *b, const ps_pool_params *pool,
                            int8_t *y, void *scratch, size_t bytes)
{
    kernel_calls++;
    switch (L->kind) {
    case K_CONV:
        return ps_conv2d_avgpool(&L->conv, &b->quant, pool, &L->in, b->x, &b->filter_dims, b->w,
                                 b->bias, &b->pooled_out, y, scratch, bytes);
    case K_DW:
        return ps_depthwise_conv2d_avgpool(&L->conv, &b->quant, pool, &L->in, b->x,
                                           &b->filter_dims, b->w, b->bias, &b->pooled_out, y,
                                           scratch, bytes);
    default:
        return ps_pointwise_conv2d_avgpool(&b->quant, pool, &L->in, b->x, &b->filter_dims, b->w,
                                           b->bias, &b->pooled_out, y, scratch, bytes);
    }
}

/* The fused kernel of L on `path`, scratch exactly its declared size (malloc, uninitialised). */
static int8_t *run_fused(const layer_t *L, built_t *b, ps_kernel_path path, ps_status *status)
{
    b->quant.path = path;
    ps_pool_params pool = L->pool;
    pool.path = PS_PATH_AUTO; /* a fused op follows quant.path */
    size_t need = fused_scratch_size(L, b, &pool);
    void *scratch = xmalloc(need);
    int8_t *y = xmalloc(dims_count(&b->pooled_out));
    *status = call_fused(L, b, &pool, y, scratch, need);
    free(scratch);
    return y;
}

static ps_status run_pool(int avg, const ps_pool_params *pool_in, ps_kernel_path path,
                          const ps_dims *in, const int8_t *x, const ps_dims *out, int8_t *y)
{
    ps_pool_params pool = *pool_in;
    pool.path = path;
    kernel_calls++;
    return avg ? ps_avg_pool2d(&pool, in, x, out, y) : ps_max_pool2d(&pool, in, x, out, y);
}

/* Run L on every supported path; everything must equal the reference path. Returns the
 * reference status of the unfused conv. */
/* Depthwise in place: the output starts ps_depthwise_conv2d_inplace_offset() bytes before
 * the input, in one exact-size block (memcheck sees any byte outside it), and must equal the
 * reference path's separate-buffer result. */
static void run_in_place(const layer_t *L, built_t *b, ps_kernel_path path, const int8_t *ref)
{
    size_t d = 0;
    CHECK_STATUS(ps_depthwise_conv2d_inplace_offset(&L->conv, &L->in, &b->filter_dims, &d), PS_OK,
                 L->name);
    const size_t in_bytes = dims_count(&L->in), out_bytes = dims_count(&b->conv_out);
    const size_t size = d + in_bytes > out_bytes ? d + in_bytes : out_bytes;
    int8_t *buf = xmalloc(size);
    memcpy(buf + d, b->x, in_bytes);
    b->quant.path = path;
    kernel_calls++;
    ps_status st = ps_depthwise_conv2d(&L->conv, &b->quant, &L->in, buf + d, &b->filter_dims, b->w,
                                       b->bias, &b->conv_out, buf, NULL, 0);
    CHECK_STATUS(st, PS_OK, L->name);
    CHECK(st != PS_OK || memcmp(buf, ref, out_bytes) == 0,
          "%s [%s] depthwise in place (output %zu bytes before the input): differs from the ref path",
          L->name, PATH_NAMES[path], d);
    free(buf);
}

static ps_status exercise(const layer_t *L)
{
    built_t b;
    if (!build(L, &b)) {
        CHECK(0, "%s: the test layer has an empty output", L->name);
        return PS_ERR_OUTPUT_SIZE;
    }
    const size_t conv_bytes = dims_count(&b.conv_out);
    ps_status ref_status;
    int8_t *ref = run_conv(L, &b, PS_PATH_REF, &ref_status);
    int8_t *ref_pooled = NULL, *ref_max = NULL;
    ps_status pool_status = PS_OK;
    const size_t pooled_bytes = L->pooled ? dims_count(&b.pooled_out) : 0;
    if (L->pooled && ref_status == PS_OK) {
        ref_pooled = xmalloc(pooled_bytes);
        pool_status = run_pool(1, &L->pool, PS_PATH_REF, &b.conv_out, ref, &b.pooled_out, ref_pooled);
        ref_max = xmalloc(pooled_bytes);
        ps_pool_params maxp = L->pool;
        maxp.rounding = PS_ROUND_TFLITE;
        CHECK_STATUS(run_pool(0, &maxp, PS_PATH_REF, &b.conv_out, ref, &b.pooled_out, ref_max),
                     PS_OK, L->name);
    }
    fold_status(ref_status);
    if (ref_status == PS_OK) {
        fold(ref, conv_bytes);
    }
    if (ref_pooled != NULL) {
        fold_status(pool_status);
        if (pool_status == PS_OK) {
            fold(ref_pooled, pooled_bytes);
        }
        fold(ref_max, pooled_bytes);
    }
    for (size_t p = 0; p < N_PATHS; p++) {
        const ps_kernel_path path = ALL_PATHS[p];
        if (!ps_kernel_path_supported(path)) {
            continue;
        }
        const char *pname = PATH_NAMES[path];
        ps_status st;
        int8_t *y = run_conv(L, &b, path, &st);
        CHECK(st == ref_status, "%s [%s] %s: status %d, reference path %d", L->name, pname,
              KIND_NAMES[L->kind], (int)st, (int)ref_status);
        if (st == PS_OK && ref_status == PS_OK) {
            CHECK(memcmp(y, ref, conv_bytes) == 0, "%s [%s] %s: output differs from the ref path",
                  L->name, pname, KIND_NAMES[L->kind]);
        }
        free(y);
        if (L->kind == K_DW && L->conv.depth_multiplier == 1 && ref_status == PS_OK) {
            run_in_place(L, &b, path, ref);
        }
        if (!L->pooled || ref_status != PS_OK) {
            continue;
        }
        y = run_fused(L, &b, path, &st);
        CHECK(st == pool_status, "%s [%s] %s_avgpool: status %d, avg_pool2d(conv) gave %d",
              L->name, pname, KIND_NAMES[L->kind], (int)st, (int)pool_status);
        if (st == PS_OK && pool_status == PS_OK) {
            CHECK(memcmp(y, ref_pooled, pooled_bytes) == 0,
                  "%s [%s] %s_avgpool != avg_pool2d(%s)", L->name, pname, KIND_NAMES[L->kind],
                  KIND_NAMES[L->kind]);
        }
        free(y);
        /* the standalone pools on the conv output, on this path */
        y = xmalloc(pooled_bytes);
        st = run_pool(1, &L->pool, path, &b.conv_out, ref, &b.pooled_out, y);
        CHECK(st == pool_status, "%s [%s] avg_pool2d status %d vs ref %d", L->name, pname,
              (int)st, (int)pool_status);
        if (st == PS_OK && pool_status == PS_OK) {
            CHECK(memcmp(y, ref_pooled, pooled_bytes) == 0, "%s [%s] avg_pool2d != ref path",
                  L->name, pname);
        }
        ps_pool_params maxp = L->pool;
        maxp.rounding = PS_ROUND_TFLITE;
        st = run_pool(0, &maxp, path, &b.conv_out, ref, &b.pooled_out, y);
        CHECK_STATUS(st, PS_OK, L->name);
        if (st == PS_OK) {
            CHECK(memcmp(y, ref_max, pooled_bytes) == 0, "%s [%s] max_pool2d != ref path", L->name,
                  pname);
        }
        free(y);
    }
    free(ref);
    free(ref_pooled);
    free(ref_max);
    release(&b);
    return ref_status;
}

/* ---- edge shapes ------------------------------------------------------------------------- */

static ps_conv_params conv_p(int32_t sh, int32_t sw, int32_t dh, int32_t dw, int32_t pt, int32_t pb,
                             int32_t pl, int32_t pr, int32_t mult)
{
    return (ps_conv_params){sh, sw, dh, dw, pt, pb, pl, pr, mult};
}

static ps_pool_params pool_p(int32_t ph, int32_t pw, int32_t sh, int32_t sw, int32_t pt, int32_t pb,
                             int32_t pl, int32_t pr, ps_pool_rounding r)
{
    return (ps_pool_params){ph, pw, sh, sw, pt, pb, pl, pr, r, -128, 127, PS_PATH_AUTO};
}

static layer_t base_layer(const char *name, kind_t kind, ps_dims in, int32_t kh, int32_t kw,
                          int32_t c_out)
{
    layer_t L;
    memset(&L, 0, sizeof L);
    L.name = name;
    L.kind = kind;
    L.in = in;
    L.kh = kh;
    L.kw = kw;
    L.c_out = c_out;
    L.conv = conv_p(1, 1, 1, 1, 0, 0, 0, 0, 1);
    L.pool = pool_p(1, 1, 1, 1, 0, 0, 0, 0, PS_ROUND_TFLITE);
    L.in_zp = -3;
    L.out_zp = 5;
    L.act_min = -128;
    L.act_max = 127;
    L.requant = PS_REQUANT_DOUBLE;
    return L;
}

static void edge_shapes(void)
{
    layer_t L;
    /* 1x1 images */
    L = base_layer("1x1 image, 1x1 kernel, pool 1", K_CONV, (ps_dims){1, 1, 1, 1}, 1, 1, 1);
    L.pooled = 1;
    exercise(&L);
    L = base_layer("1x1 image, 3x3 same padding, pool 2 padded", K_CONV, (ps_dims){1, 1, 1, 3}, 3,
                   3, 4);
    L.conv = conv_p(1, 1, 1, 1, 1, 1, 1, 1, 1);
    L.pooled = 1;
    L.pool = pool_p(2, 2, 2, 2, 0, 1, 0, 1, PS_ROUND_TFLITE);
    exercise(&L);
    L = base_layer("1x1 image depthwise M=3, pool 3 pad 2 (ring)", K_DW, (ps_dims){2, 1, 1, 2}, 3, 3,
                   0);
    L.conv = conv_p(1, 1, 1, 1, 1, 1, 1, 1, 3);
    L.pooled = 1;
    L.pool = pool_p(3, 3, 1, 1, 2, 2, 2, 2, PS_ROUND_TFLITE); /* 3x3 conv out of padding windows */
    exercise(&L);
    L = base_layer("1x1 image pointwise, pool 1", K_PW, (ps_dims){3, 1, 1, 5}, 1, 1, 7);
    L.pooled = 1;
    exercise(&L);
    L = base_layer("fully connected 1x1", K_FC, (ps_dims){1, 1, 1, 1}, 1, 1, 1);
    exercise(&L);

    /* padding larger than the kernel: whole rows and columns of outputs from padding only */
    L = base_layer("pad 4 > 3x3 kernel on 2x2", K_CONV, (ps_dims){1, 2, 2, 2}, 3, 3, 3);
    L.conv = conv_p(1, 1, 1, 1, 4, 4, 4, 4, 1);
    L.pooled = 1;
    L.pool = pool_p(3, 3, 3, 3, 0, 0, 0, 0, PS_ROUND_TFLITE); /* 8x8 -> 2x2, drops 2 rows/cols */
    exercise(&L);
    L = base_layer("depthwise pad 5 > 2x2 kernel, stride 2", K_DW, (ps_dims){2, 3, 1, 3}, 2, 2, 0);
    L.conv = conv_p(2, 3, 1, 1, 5, 0, 0, 5, 2);
    L.pooled = 1;
    L.pool = pool_p(2, 2, 1, 1, 1, 1, 1, 1, PS_ROUND_TFLITE);
    exercise(&L);

    /* pools that do not divide the conv output, both fused modes, all roundings */
    L = base_layer("7x5 conv out, pool 2 valid (drops a row and a column)", K_CONV,
                   (ps_dims){2, 9, 7, 3}, 3, 3, 5);
    L.pooled = 1;
    L.pool = pool_p(2, 2, 2, 2, 0, 0, 0, 0, PS_ROUND_FLOOR);
    exercise(&L);
    L.name = "7x5 conv out, pool 3 stride 2 same (ring)";
    L.pool = pool_p(3, 3, 2, 2, 1, 1, 1, 1, PS_ROUND_TFLITE);
    exercise(&L);
    L.name = "7x5 conv out, pool (2,3) stride (3,2) (window on h only)";
    L.pool = pool_p(2, 3, 3, 2, 0, 1, 1, 0, PS_ROUND_TFLITE);
    exercise(&L);
    L.name = "7x5 conv out, pool 4 stride 5 (gaps)";
    L.pool = pool_p(4, 4, 5, 5, 0, 0, 0, 0, PS_ROUND_HALF_UP);
    exercise(&L);
    L.name = "7x5 conv out, global 7x5 pool";
    L.pool = pool_p(7, 5, 7, 5, 0, 0, 0, 0, PS_ROUND_TFLITE);
    exercise(&L);
    L.name = "floor rounding, 3-position windows: PS_ERR_POOL_COUNT on every path";
    L.pool = pool_p(3, 1, 3, 1, 0, 0, 0, 0, PS_ROUND_FLOOR);
    exercise(&L);

    /* dilation, stride, depth multiplier, batch */
    L = base_layer("dilated 3x2 conv, stride (2,1), batch 3", K_CONV, (ps_dims){3, 11, 8, 4}, 3, 2,
                   6);
    L.conv = conv_p(2, 1, 2, 3, 1, 2, 0, 1, 1);
    L.pooled = 1;
    L.pool = pool_p(2, 2, 1, 2, 1, 0, 0, 0, PS_ROUND_TFLITE);
    L.act_min = -20;
    L.act_max = 40;
    exercise(&L);
    L = base_layer("depthwise 70 channels M=1, single rounding", K_DW, (ps_dims){1, 6, 5, 70}, 3, 3,
                   0);
    L.conv = conv_p(1, 1, 1, 1, 1, 1, 1, 1, 1);
    L.requant = PS_REQUANT_SINGLE;
    L.pooled = 1;
    L.pool = pool_p(2, 2, 2, 2, 0, 0, 0, 0, PS_ROUND_TFLITE);
    exercise(&L);

    /* around the SIMD paths' limits: K = 2043 (< 2048, odd), 2048, 2049 (portable
     * fallback), channel chunks (8 per chunk at K = 2048), > 256 output channels, > 512
     * (the portable patch) */
    L = base_layer("conv K=2043 (227x3x3), 19 filters", K_CONV, (ps_dims){1, 4, 5, 227}, 3, 3, 19);
    L.conv = conv_p(1, 2, 1, 1, 0, 0, 1, 0, 1);
    L.pooled = 1;
    L.pool = pool_p(2, 2, 2, 2, 0, 0, 0, 0, PS_ROUND_TFLITE);
    exercise(&L);
    L = base_layer("pointwise K=2048, 20 filters, no bias", K_PW, (ps_dims){1, 2, 5, 2048}, 1, 1, 20);
    L.no_bias = 1;
    L.pooled = 1;
    L.pool = pool_p(2, 3, 1, 1, 0, 0, 0, 0, PS_ROUND_TFLITE);
    exercise(&L);
    L = base_layer("fully connected K=2049, 9 units, batch 5", K_FC, (ps_dims){5, 1, 1, 2049}, 1, 1, 9);
    L.requant = PS_REQUANT_SINGLE;
    exercise(&L);
    L = base_layer("pointwise 300 filters, 6 pixels", K_PW, (ps_dims){2, 1, 3, 24}, 1, 1, 300);
    L.pooled = 1;
    L.pool = pool_p(1, 2, 1, 1, 0, 0, 0, 1, PS_ROUND_TFLITE);
    exercise(&L);
    L = base_layer("conv K=600 (> the portable patch), 70 filters", K_CONV, (ps_dims){1, 3, 3, 150},
                   2, 2, 70);
    exercise(&L);
}

static void random_layers(int count)
{
    char name[64];
    for (int i = 0; i < count; i++) {
        layer_t L = base_layer(name, (kind_t)rnd_in(0, 3), (ps_dims){rnd_in(1, 3), rnd_in(1, 9),
                                                                     rnd_in(1, 9), rnd_in(1, 9)},
                               rnd_in(1, 4), rnd_in(1, 4), rnd_in(1, 20));
        snprintf(name, sizeof name, "random layer %d", i);
        if (i % 10 == 9) { /* wide layers: channel chunks and long receptive fields */
            L.in.c = rnd_in(1, 300);
            L.c_out = rnd_in(1, 300);
            L.in.h = rnd_in(1, 4);
            L.in.w = rnd_in(1, 5);
        }
        if (L.kind == K_PW || L.kind == K_FC) {
            L.kh = L.kw = 1;
        }
        if (L.kind == K_FC) {
            L.in.h = L.in.w = 1;
        } else {
            L.conv = conv_p(rnd_in(1, 3), rnd_in(1, 3), rnd_in(1, 2), rnd_in(1, 2), rnd_in(0, 4),
                            rnd_in(0, 4), rnd_in(0, 4), rnd_in(0, 4), rnd_in(1, 3));
        }
        if (L.kind == K_PW) {
            L.conv = conv_p(1, 1, 1, 1, 0, 0, 0, 0, 1);
        }
        L.in_zp = rnd_in(-128, 127);
        L.out_zp = rnd_in(-128, 127);
        L.act_min = rnd_in(-128, 0);
        L.act_max = rnd_in(L.act_min, 127);
        L.requant = (ps_requant_mode)rnd_in(0, 1);
        L.no_bias = rnd_in(0, 3) == 0;
        L.pooled = L.kind != K_FC;
        int32_t ph = rnd_in(1, 4), pw = rnd_in(1, 4);
        L.pool = pool_p(ph, pw, rnd_in(1, 4), rnd_in(1, 4), rnd_in(0, ph - 1), rnd_in(0, ph - 1),
                        rnd_in(0, pw - 1), rnd_in(0, pw - 1), (ps_pool_rounding)rnd_in(0, 2));
        L.pool.act_min = rnd_in(-128, 0);
        L.pool.act_max = rnd_in(L.pool.act_min, 127);
        built_t probe;
        if (!build(&L, &probe)) { /* the conv does not fit: draw again */
            i--;
            continue;
        }
        int empty_pool = L.pooled && (ps_output_size(probe.conv_out.h, L.pool.pool_h,
                                                     L.pool.stride_h, 1, L.pool.pad_top,
                                                     L.pool.pad_bottom) < 1 ||
                                      ps_output_size(probe.conv_out.w, L.pool.pool_w,
                                                     L.pool.stride_w, 1, L.pool.pad_left,
                                                     L.pool.pad_right) < 1);
        release(&probe);
        if (empty_pool) {
            L.pooled = 0;
        }
        exercise(&L);
    }
}

/* ---- known answers ----------------------------------------------------------------------- */

/* identity requantization: mult 2^30, shift 1 -> MBQM(x) = x (for |x| < 2^30) */
static int32_t ID_MULT[8] = {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30};
static int32_t ID_SHIFT[8] = {1, 1, 1, 1, 1, 1, 1, 1};

static void known_answers(void)
{
    ps_status st;
    /* ps_output_size */
    CHECK(ps_output_size(10, 3, 1, 1, 0, 0) == 8, "output_size valid");
    CHECK(ps_output_size(10, 3, 2, 1, 1, 1) == 5, "output_size same stride 2");
    CHECK(ps_output_size(5, 3, 1, 3, 0, 0) < 1, "output_size dilated kernel larger than input");
    CHECK(ps_output_size(2, 3, 1, 1, 4, 4) == 8, "output_size pad 4");

    /* quantize_multiplier: 0.5 = 2^30 * 2^(0-31); 1.0 -> (2^30, 1); 0.75 -> (0.75 * 2^31, 0) */
    {
        double real[5] = {0.5, 1.0, 0.75, 0.0, 1e-12};
        int32_t *m = xmalloc(sizeof(int32_t) * 5), *s = xmalloc(sizeof(int32_t) * 5);
        CHECK_STATUS(ps_quantize_multiplier(real, 5, m, s), PS_OK, "quantize_multiplier");
        CHECK(m[0] == (1 << 30) && s[0] == 0, "qm(0.5) = (%d, %d)", m[0], s[0]);
        CHECK(m[1] == (1 << 30) && s[1] == 1, "qm(1.0) = (%d, %d)", m[1], s[1]);
        CHECK(m[2] == 1610612736 && s[2] == 0, "qm(0.75) = (%d, %d)", m[2], s[2]);
        CHECK(m[3] == 0 && s[3] == 0, "qm(0) = (%d, %d)", m[3], s[3]);
        CHECK(m[4] == 0 && s[4] == 0, "qm(1e-12) = (%d, %d)", m[4], s[4]); /* e = -39 < -31 */
        double bad[2] = {0.5, -1.0};
        CHECK_STATUS(ps_quantize_multiplier(bad, 2, m, s), PS_ERR_PARAM, "qm(-1)");
        bad[1] = NAN;
        CHECK_STATUS(ps_quantize_multiplier(bad, 2, m, s), PS_ERR_PARAM, "qm(nan)");
        bad[1] = INFINITY;
        CHECK_STATUS(ps_quantize_multiplier(bad, 2, m, s), PS_ERR_PARAM, "qm(inf)");
        CHECK_STATUS(ps_quantize_multiplier(NULL, 0, NULL, NULL), PS_OK, "qm of nothing");
        CHECK_STATUS(ps_quantize_multiplier(NULL, 1, m, s), PS_ERR_NULL, "qm(NULL)");
        free(m);
        free(s);
    }

    for (size_t p = 0; p < N_PATHS; p++) {
        const ps_kernel_path path = ALL_PATHS[p];
        if (!ps_kernel_path_supported(path)) {
            continue;
        }
        const char *pn = PATH_NAMES[path];
        ps_quant_params q = {1, 4, ID_MULT, ID_SHIFT, -128, 127, PS_REQUANT_DOUBLE, path};
        ps_conv_params valid = {1, 1, 1, 1, 0, 0, 0, 0, 1};

        /* conv2d, 1x1 image, 2 channels: acc = 10 + (3-1)*5 + (-2-1)*7 = -1; out = -1 + 4 = 3 */
        {
            ps_dims xd = {1, 1, 1, 2}, wd = {1, 1, 1, 2}, yd = {1, 1, 1, 1};
            int8_t *x = xmalloc(2), *w = xmalloc(2), *y = xmalloc(1);
            int32_t *bias = xmalloc(4);
            x[0] = 3, x[1] = -2, w[0] = 5, w[1] = 7, bias[0] = 10;
            kernel_calls++;
            st = ps_conv2d(&valid, &q, &xd, x, &wd, w, bias, &yd, y, NULL, 0);
            CHECK_STATUS(st, PS_OK, "conv2d known answer");
            CHECK(st != PS_OK || y[0] == 3, "[%s] conv2d 1x1: %d, expected 3", pn, y[0]);
            /* the same as requant single: (x*2^30 + 2^29) >> 30 = x for these */
            q.requant = PS_REQUANT_SINGLE;
            st = ps_conv2d(&valid, &q, &xd, x, &wd, w, bias, &yd, y, NULL, 0);
            CHECK(st == PS_OK && y[0] == 3, "[%s] conv2d 1x1 single: %d, expected 3", pn, y[0]);
            q.requant = PS_REQUANT_DOUBLE;
            /* act_max clamps: 3 -> 2 */
            q.act_max = 2;
            st = ps_conv2d(&valid, &q, &xd, x, &wd, w, bias, &yd, y, NULL, 0);
            CHECK(st == PS_OK && y[0] == 2, "[%s] conv2d clamp: %d, expected 2", pn, y[0]);
            q.act_max = 127;
            free(x), free(w), free(y), free(bias);
        }

        /* conv2d, 3x3 all-ones kernel, 1x1 image x = 10, zp 0, padding 4 on each side:
         * 7x7 output; only outputs whose window covers the pixel see it: rows/cols 2..4 -> 10;
         * every other output is padding only: bias (-6) + out_zp 4 -> -2... plus 10 */
        {
            ps_conv_params pad4 = {1, 1, 1, 1, 4, 4, 4, 4, 1};
            ps_dims xd = {1, 1, 1, 1}, wd = {1, 3, 3, 1}, yd = {1, 7, 7, 1};
            int8_t *x = xmalloc(1), *w = xmalloc(9), *y = xmalloc(49);
            int32_t *bias = xmalloc(4);
            x[0] = 10;
            memset(w, 1, 9);
            bias[0] = -6;
            ps_quant_params q0 = q;
            q0.input_zp = 0;
            kernel_calls++;
            st = ps_conv2d(&pad4, &q0, &xd, x, &wd, w, bias, &yd, y, NULL, 0);
            CHECK_STATUS(st, PS_OK, "conv2d pad 4");
            int good = st == PS_OK;
            for (int i = 0; good && i < 7; i++) {
                for (int j = 0; j < 7; j++) {
                    int inside = i >= 2 && i <= 4 && j >= 2 && j <= 4;
                    int want = (inside ? 10 : 0) - 6 + 4;
                    if (y[i * 7 + j] != want) {
                        good = 0;
                        CHECK(0, "[%s] conv2d pad 4: y[%d,%d] = %d, expected %d", pn, i, j,
                              y[i * 7 + j], want);
                        break;
                    }
                }
            }
            CHECK(good, "[%s] conv2d pad 4 output", pn);
            /* the same through the fused kernel with a 7x7 global pool: sum = 9*10 + 49*(-2)
             * = -8 over 49 -> round half away (-8/49 = -0.16) -> 0 */
            ps_pool_params gp = {7, 7, 7, 7, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO};
            ps_dims pd = {1, 1, 1, 1};
            size_t need = ps_conv2d_avgpool_scratch_size(&pad4, &gp, &xd, &wd);
            CHECK(need == 4 + 7, "conv2d_avgpool scratch %zu, expected 11 (4 C_out + 7x1)", need);
            void *scratch = xmalloc(need);
            int8_t *z = xmalloc(1);
            kernel_calls++;
            st = ps_conv2d_avgpool(&pad4, &q0, &gp, &xd, x, &wd, w, bias, &pd, z, scratch, need);
            CHECK(st == PS_OK && z[0] == 0, "[%s] conv2d_avgpool global: %d, expected 0", pn, z[0]);
            free(scratch), free(z);
            free(x), free(w), free(y), free(bias);
        }

        /* pools on a 2x3 image, one channel: rows [1 2 2; 2 -7 5] */
        {
            ps_dims xd = {1, 2, 3, 1};
            int8_t *x = xmalloc(6);
            const int8_t v[6] = {1, 2, 2, 2, -7, 5};
            memcpy(x, v, 6);
            /* 2x2 valid, stride 1: windows {1,2,2,-7} sum -2 -> -0.5 -> -1 (half away);
             * {2,2,-7,5} sum 2 -> 0.5 -> 1 */
            ps_pool_params pp = {2, 2, 1, 1, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, path};
            ps_dims yd = {1, 1, 2, 1};
            int8_t *y = xmalloc(2);
            kernel_calls++;
            st = ps_avg_pool2d(&pp, &xd, x, &yd, y);
            CHECK(st == PS_OK && y[0] == -1 && y[1] == 1, "[%s] avg tflite: %d %d, expected -1 1",
                  pn, y[0], y[1]);
            pp.rounding = PS_ROUND_FLOOR; /* -2/4 -> -1, 2/4 -> 0 */
            st = ps_avg_pool2d(&pp, &xd, x, &yd, y);
            CHECK(st == PS_OK && y[0] == -1 && y[1] == 0, "[%s] avg floor: %d %d, expected -1 0",
                  pn, y[0], y[1]);
            pp.rounding = PS_ROUND_HALF_UP; /* (-2+2)>>2 = 0, (2+2)>>2 = 1 */
            st = ps_avg_pool2d(&pp, &xd, x, &yd, y);
            CHECK(st == PS_OK && y[0] == 0 && y[1] == 1, "[%s] avg half_up: %d %d, expected 0 1",
                  pn, y[0], y[1]);
            kernel_calls += 2;
            st = ps_max_pool2d(&pp, &xd, x, &yd, y);
            CHECK(st == PS_OK && y[0] == 2 && y[1] == 5, "[%s] max: %d %d, expected 2 5", pn, y[0],
                  y[1]);
            free(y);
            /* 2x2 stride 2 with right padding 1: windows cols {0,1} and {2}: counts 4 and 2:
             * sums -2 -> -1 (half away: -0.5), 7 -> 3.5 -> 4; a 3-count does not arise */
            ps_pool_params pp2 = {2, 2, 2, 2, 0, 0, 0, 1, PS_ROUND_TFLITE, -128, 3, path};
            y = xmalloc(2);
            kernel_calls++;
            st = ps_avg_pool2d(&pp2, &xd, x, &yd, y);
            CHECK(st == PS_OK && y[0] == -1 && y[1] == 3, "[%s] avg padded + act_max 3: %d %d",
                  pn, y[0], y[1]);
            /* 3-position window (1x3 over row 0: {1,2,2} = 5/3 -> 2) is PS_ERR_POOL_COUNT for
             * floor but fine for tflite */
            ps_pool_params pp3 = {1, 3, 1, 3, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, path};
            ps_dims y3 = {1, 2, 1, 1};
            st = ps_avg_pool2d(&pp3, &xd, x, &y3, y);
            CHECK(st == PS_OK && y[0] == 2 && y[1] == 0, "[%s] avg 3-count: %d %d, expected 2 0",
                  pn, y[0], y[1]);
            pp3.rounding = PS_ROUND_FLOOR;
            memset(y, 0x55, 2);
            st = ps_avg_pool2d(&pp3, &xd, x, &y3, y);
            CHECK_STATUS(st, PS_ERR_POOL_COUNT, "avg floor 3-count");
            CHECK(y[0] == 0x55 && y[1] == 0x55, "a rejected pool wrote its output");
            free(y);
            free(x);
        }

        /* fused pointwise identity + 2x2 pool = the average of the input (zp 0, out_zp 0) */
        {
            ps_dims xd = {1, 2, 2, 1}, wd = {1, 1, 1, 1}, yd = {1, 1, 1, 1};
            int8_t *x = xmalloc(4), *w = xmalloc(1), *y = xmalloc(1);
            x[0] = 9, x[1] = 10, x[2] = 10, x[3] = 10, w[0] = 1; /* 39/4 = 9.75 -> 10 */
            ps_quant_params qi = {0, 0, ID_MULT, ID_SHIFT, -128, 127, PS_REQUANT_DOUBLE, path};
            ps_pool_params pp = {2, 2, 2, 2, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO};
            size_t need = ps_pointwise_conv2d_avgpool_scratch_size(&pp, &xd, &wd);
            CHECK(need == 4 + 2, "pointwise_conv2d_avgpool scratch %zu, expected 6", need);
            void *scratch = xmalloc(need);
            kernel_calls++;
            st = ps_pointwise_conv2d_avgpool(&qi, &pp, &xd, x, &wd, w, NULL, &yd, y, scratch, need);
            CHECK(st == PS_OK && y[0] == 10, "[%s] fused pointwise average: %d, expected 10", pn,
                  y[0]);
            pp.rounding = PS_ROUND_FLOOR; /* 39 >> 2 = 9 */
            st = ps_pointwise_conv2d_avgpool(&qi, &pp, &xd, x, &wd, w, NULL, &yd, y, scratch, need);
            CHECK(st == PS_OK && y[0] == 9, "[%s] fused pointwise floor: %d, expected 9", pn, y[0]);
            free(scratch), free(x), free(w), free(y);
        }

        /* depthwise M=2 on a 1x1 image: oc = ic*2 + m reads ic; x = [4, -5], zp 1, w = [1 2 3 4]
         * -> acc = [3, 6, -18, -24], out_zp 4 -> [7, 10, -14, -20] */
        {
            ps_conv_params c = {1, 1, 1, 1, 0, 0, 0, 0, 2};
            ps_dims xd = {1, 1, 1, 2}, wd = {1, 1, 1, 4}, yd = {1, 1, 1, 4};
            int8_t *x = xmalloc(2), *w = xmalloc(4), *y = xmalloc(4);
            x[0] = 4, x[1] = -5, w[0] = 1, w[1] = 2, w[2] = 3, w[3] = 4;
            kernel_calls++;
            st = ps_depthwise_conv2d(&c, &q, &xd, x, &wd, w, NULL, &yd, y, NULL, 0);
            CHECK(st == PS_OK && y[0] == 7 && y[1] == 10 && y[2] == -14 && y[3] == -20,
                  "[%s] depthwise M=2: %d %d %d %d, expected 7 10 -14 -20", pn, y[0], y[1], y[2],
                  y[3]);
            free(x), free(w), free(y);
        }

        /* fully connected, 2 rows x 3 features, 2 units, zp 1, out_zp 4:
         * row0 [2 3 4] -> x-zp [1 2 3]; w0 [1 1 1] -> 6 + 4 = 10; w1 [-1 0 2] -> 5 + 4 = 9
         * row1 [1 1 1] -> [0 0 0] -> 4, 4 */
        {
            ps_dims xd = {2, 1, 1, 3}, wd = {2, 1, 1, 3}, yd = {2, 1, 1, 2};
            int8_t *x = xmalloc(6), *w = xmalloc(6), *y = xmalloc(4);
            const int8_t xv[6] = {2, 3, 4, 1, 1, 1}, wv[6] = {1, 1, 1, -1, 0, 2};
            memcpy(x, xv, 6);
            memcpy(w, wv, 6);
            kernel_calls++;
            st = ps_fully_connected(&q, &xd, x, &wd, w, NULL, &yd, y, NULL, 0);
            CHECK(st == PS_OK && y[0] == 10 && y[1] == 9 && y[2] == 4 && y[3] == 4,
                  "[%s] fully connected: %d %d %d %d, expected 10 9 4 4", pn, y[0], y[1], y[2],
                  y[3]);
            free(x), free(w), free(y);
        }
    }

    /* softmax: two equal values are 1/2 each: 128 steps of 1/256 -> 0; a single value is 1
     * -> 256 steps -> clamped to 127; in place */
    {
        ps_softmax_params *sp = xmalloc(sizeof *sp);
        CHECK_STATUS(ps_softmax_prepare(bits_of(0.05f), bits_of(1.0f), sp), PS_OK, "softmax_prepare");
        int8_t *x = xmalloc(5), *y = xmalloc(5);
        x[0] = 17, x[1] = 17, x[2] = -3, x[3] = 100, x[4] = -128;
        kernel_calls++;
        st = ps_softmax(sp, 1, 2, x, y);
        CHECK(st == PS_OK && y[0] == 0 && y[1] == 0, "softmax halves: %d %d, expected 0 0", y[0],
              y[1]);
        st = ps_softmax(sp, 1, 1, x + 2, y);
        CHECK(st == PS_OK && y[0] == 127, "softmax of one value: %d, expected 127", y[0]);
        /* 100 vs -128 at scale 0.05: exp(-11.4) ~ 1e-5 -> -128 and 127 */
        st = ps_softmax(sp, 1, 2, x + 3, x + 3);
        CHECK(st == PS_OK && x[3] == 127 && x[4] == -128, "softmax in place: %d %d", x[3], x[4]);
        const uint32_t one = bits_of(1.0f);
        CHECK_STATUS(ps_softmax_prepare(bits_of(0.0f), one, sp), PS_ERR_PARAM, "softmax_prepare(0)");
        CHECK_STATUS(ps_softmax_prepare(bits_of(-0.0f), one, sp), PS_ERR_PARAM, "softmax_prepare(-0)");
        CHECK_STATUS(ps_softmax_prepare(bits_of(-1.0f), one, sp), PS_ERR_PARAM, "softmax_prepare(-1)");
        CHECK_STATUS(ps_softmax_prepare(bits_of(NAN), one, sp), PS_ERR_PARAM, "softmax_prepare(nan)");
        CHECK_STATUS(ps_softmax_prepare(one, bits_of(INFINITY), sp), PS_ERR_PARAM,
                     "softmax_prepare(beta inf)");
        CHECK_STATUS(ps_softmax_prepare(bits_of(1e-10f), one, sp), PS_ERR_PARAM, "softmax_prepare(real<=1)");
        CHECK_STATUS(ps_softmax_prepare(bits_of(0.05f), one, NULL), PS_ERR_NULL, "softmax_prepare(NULL)");
        free(x), free(y), free(sp);
    }
}

/* ---- random softmax ---------------------------------------------------------------------- */

/* Seeded random softmax rows (every output folded into the digest, so a soft-arith build is
 * compared byte for byte), and ps_softmax_prepare on random bit patterns. */
static void random_softmax(int count)
{
    for (int i = 0; i < count; i++) {
        /* input scales 2^-12 .. 2^2, betas 1 or 2^-3 .. 2^5, random mantissas (float32 bits) */
        const uint32_t scale_exp = (uint32_t)rnd_in(127 - 12, 127 + 1);
        const uint32_t scale_bits = scale_exp << 23 | (rnd() & 0x7FFFFFu);
        const uint32_t beta_exp = (uint32_t)rnd_in(127 - 3, 127 + 4);
        const uint32_t beta_bits = i % 3 == 0 ? bits_of(1.0f) : beta_exp << 23 | (rnd() & 0x7FFFFFu);
        ps_softmax_params p;
        ps_status st = ps_softmax_prepare(scale_bits, beta_bits, &p);
        CHECK_STATUS(st, PS_OK, "random softmax_prepare");
        if (st != PS_OK) {
            continue;
        }
        const int32_t params[3] = {p.input_multiplier, p.input_left_shift, p.diff_min};
        fold(params, sizeof params);
        const int32_t rows = rnd_in(1, 4), depth = rnd_in(1, 300), lo = rnd_in(-128, 127);
        const size_t n = (size_t)rows * (size_t)depth;
        int8_t *x = random_int8(n, lo, rnd_in(lo, 127)), *y = xmalloc(n);
        kernel_calls++;
        st = ps_softmax(&p, rows, depth, x, y);
        CHECK_STATUS(st, PS_OK, "random softmax");
        if (st != PS_OK) {
            free(x), free(y);
            continue;
        }
        fold(y, n);
        /* softmax is monotonic: a row's largest input has its largest output */
        for (int32_t r = 0; r < rows; r++) {
            const int8_t *xr = x + (size_t)r * depth, *yr = y + (size_t)r * depth;
            int32_t at = 0;
            for (int32_t c = 1; c < depth; c++) {
                at = xr[c] > xr[at] ? c : at;
            }
            for (int32_t c = 0; c < depth; c++) {
                CHECK(yr[c] <= yr[at], "random softmax %d row %d: y[%d] = %d > y[argmax x] = %d", i, (int)r,
                      (int)c, yr[c], yr[at]);
            }
        }
        free(x), free(y);
    }
    for (int i = 0; i < 50 * count; i++) { /* any bits: NaNs, infinities, negatives, subnormals */
        const uint32_t scale_bits = rnd(), beta_bits = i % 2 ? rnd() : bits_of(1.0f);
        ps_softmax_params p = {0, 0, 0};
        const ps_status st = ps_softmax_prepare(scale_bits, beta_bits, &p);
        fold_status(st);
        const int32_t params[3] = {p.input_multiplier, p.input_left_shift, p.diff_min};
        fold(params, sizeof params);
        const int bad = (scale_bits >> 31) || (beta_bits >> 31) || (scale_bits & 0x7FFFFFFFu) == 0 ||
                        (beta_bits & 0x7FFFFFFFu) == 0 || (scale_bits >> 23) >= 0xFFu ||
                        (beta_bits >> 23) >= 0xFFu;
        if (bad) {
            CHECK_STATUS(st, PS_ERR_PARAM, "softmax_prepare(negative, 0, inf or NaN bits)");
        }
    }
}

/* ---- status paths ------------------------------------------------------------------------ */

#define SENTINEL 0x5A

static int untouched(const int8_t *y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((uint8_t)y[i] != SENTINEL) {
            return 0;
        }
    }
    return 1;
}

/* A valid 1x6x5x2 -> 3x(3x3)x2 conv (output 1x4x3x3, pooled 2x2 -> 1x2x1x3). */
typedef struct {
    ps_conv_params conv;
    ps_quant_params quant;
    ps_pool_params pool;
    ps_dims xd, wd, yd, pd, dwd, dyd;
    int8_t *x, *w, *dw, *y, *py;
    int32_t *bias, *mult, *shift;
    void *scratch;
    size_t need;
} fixture_t;

static void fixture_init(fixture_t *f)
{
    f->conv = (ps_conv_params){1, 1, 1, 1, 0, 0, 0, 0, 1};
    f->xd = (ps_dims){1, 6, 5, 2};
    f->wd = (ps_dims){3, 3, 3, 2};
    f->yd = (ps_dims){1, 4, 3, 3};
    f->pd = (ps_dims){1, 2, 1, 3};
    f->dwd = (ps_dims){1, 3, 3, 2}; /* depthwise M=1 */
    f->dyd = (ps_dims){1, 4, 3, 2};
    f->x = random_int8(60, -128, 127);
    f->w = random_int8(54, -127, 127);
    f->dw = random_int8(18, -127, 127);
    f->y = xmalloc(36);
    f->py = xmalloc(6);
    f->bias = xmalloc(12);
    f->mult = xmalloc(12);
    f->shift = xmalloc(12);
    for (int i = 0; i < 3; i++) {
        f->bias[i] = 100 * i;
        f->mult[i] = 1 << 30;
        f->shift[i] = -3;
    }
    f->quant = (ps_quant_params){0, 0, f->mult, f->shift, -128, 127, PS_REQUANT_DOUBLE, PS_PATH_AUTO};
    f->pool = (ps_pool_params){2, 2, 2, 2, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO};
    f->need = ps_conv2d_avgpool_scratch_size(&f->conv, &f->pool, &f->xd, &f->wd);
    f->scratch = xmalloc(f->need + 1); /* +1: room for the misaligned-pointer case */
}

static void fixture_free(fixture_t *f)
{
    free(f->x), free(f->w), free(f->dw), free(f->y), free(f->py), free(f->bias), free(f->mult);
    free(f->shift), free(f->scratch);
}

/* ps_conv2d with the fixture, output filled with SENTINEL first; checks status + untouched */
static void expect_conv(fixture_t *f, const ps_conv_params *conv, const ps_quant_params *quant,
                        const ps_dims *xd, const int8_t *x, const ps_dims *wd, const int8_t *w,
                        const int32_t *bias, const ps_dims *yd, int8_t *y, ps_status want,
                        const char *what)
{
    memset(f->y, SENTINEL, 36);
    kernel_calls++;
    ps_status st = ps_conv2d(conv, quant, xd, x, wd, w, bias, yd, y, NULL, 0);
    CHECK_STATUS(st, want, what);
    if (want != PS_OK) {
        CHECK(untouched(f->y, 36), "%s: a rejected conv2d wrote its output", what);
    }
}

static void expect_fused(fixture_t *f, const ps_conv_params *conv, const ps_quant_params *quant,
                         const ps_pool_params *pool, const ps_dims *xd, const int8_t *x,
                         const ps_dims *wd, const int8_t *w, const ps_dims *pd, int8_t *py,
                         void *scratch, size_t bytes, ps_status want, const char *what)
{
    memset(f->py, SENTINEL, 6);
    kernel_calls++;
    ps_status st = ps_conv2d_avgpool(conv, quant, pool, xd, x, wd, w, f->bias, pd, py, scratch,
                                     bytes);
    CHECK_STATUS(st, want, what);
    if (want != PS_OK) {
        CHECK(untouched(f->py, 6), "%s: a rejected conv2d_avgpool wrote its output", what);
    }
}

static void set_conv_field(ps_conv_params *c, int field, int32_t v)
{
    switch (field) {
    case 0: c->stride_h = v; break;
    case 1: c->stride_w = v; break;
    case 2: c->dilation_h = v; break;
    case 3: c->dilation_w = v; break;
    case 4: c->pad_top = v; break;
    case 5: c->pad_bottom = v; break;
    case 6: c->pad_left = v; break;
    case 7: c->pad_right = v; break;
    default: c->depth_multiplier = v; break;
    }
}

static void set_pool_field(ps_pool_params *p, int field, int32_t v)
{
    switch (field) {
    case 0: p->pool_h = v; break;
    case 1: p->pool_w = v; break;
    case 2: p->stride_h = v; break;
    case 3: p->stride_w = v; break;
    case 4: p->pad_top = v; break;
    case 5: p->pad_bottom = v; break;
    case 6: p->pad_left = v; break;
    case 7: p->pad_right = v; break;
    case 8: p->rounding = (ps_pool_rounding)v; break;
    case 9: p->act_min = v; break;
    case 10: p->act_max = v; break;
    default: p->path = (ps_kernel_path)v; break;
    }
}

static void status_paths(void)
{
    fixture_t f;
    fixture_init(&f);
    ps_conv_params c;
    ps_quant_params q;
    ps_pool_params p;
    ps_dims d;

    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_OK, "valid");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, NULL, &f.yd, f.y, PS_OK, "no bias");
    /* every NULL */
    expect_conv(&f, NULL, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "conv NULL");
    expect_conv(&f, &f.conv, NULL, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "quant NULL");
    expect_conv(&f, &f.conv, &f.quant, NULL, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "x dims NULL");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, NULL, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "x NULL");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, NULL, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "w dims NULL");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, NULL, f.bias, &f.yd, f.y, PS_ERR_NULL, "w NULL");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, NULL, f.y, PS_ERR_NULL, "y dims NULL");
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, NULL, PS_ERR_NULL, "y NULL");
    q = f.quant;
    q.multiplier = NULL;
    expect_conv(&f, &f.conv, &q, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "multiplier NULL");
    q = f.quant;
    q.shift = NULL;
    expect_conv(&f, &f.conv, &q, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_NULL, "shift NULL");
    /* shapes: never read past x although the dims claim huge sizes */
    d = (ps_dims){1, 6, 0, 2};
    expect_conv(&f, &f.conv, &f.quant, &d, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "w=0");
    d = (ps_dims){65536, 65536, 1, 1};
    expect_conv(&f, &f.conv, &f.quant, &d, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "2^32 elements");
    d = (ps_dims){1, 46341, 46341, 2};
    expect_conv(&f, &f.conv, &f.quant, &d, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "> INT32_MAX elements");
    /* n * h * w alone is past int64 (it used to overflow there: UB, caught by UBSan) */
    d = (ps_dims){INT32_MAX, INT32_MAX, INT32_MAX, 2};
    expect_conv(&f, &f.conv, &f.quant, &d, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "2^93 elements");
    d = (ps_dims){-1, 6, 5, 2};
    expect_conv(&f, &f.conv, &f.quant, &d, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "n=-1");
    d = (ps_dims){3, 3, 3, 4};
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &d, f.w, f.bias, &f.yd, f.y, PS_ERR_SHAPE, "C_in mismatch");
    d = (ps_dims){1, 4, 4, 3};
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &d, f.y, PS_ERR_OUTPUT_SIZE, "y dims");
    d = (ps_dims){3, 7, 3, 2};
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &d, f.w, f.bias, &f.yd, f.y, PS_ERR_OUTPUT_SIZE, "kernel > input");
    /* parameters */
    const struct { int field; int32_t value; ps_status want; const char *what; } conv_bad[] = {
        {0, 0, PS_ERR_PARAM, "stride_h 0"},         {1, -2, PS_ERR_PARAM, "stride_w -2"},
        {2, 0, PS_ERR_PARAM, "dilation_h 0"},       {3, -1, PS_ERR_PARAM, "dilation_w -1"},
        {4, -1, PS_ERR_PARAM, "pad_top -1"},        {7, INT32_MIN, PS_ERR_PARAM, "pad_right INT32_MIN"},
        {2, 3, PS_ERR_OUTPUT_SIZE, "dilation 3"},   {0, INT32_MAX, PS_OK, "stride INT32_MAX"},
        {2, INT32_MAX, PS_ERR_OUTPUT_SIZE, "dilation INT32_MAX"},
        {4, INT32_MAX, PS_ERR_OUTPUT_SIZE, "pad INT32_MAX"},
    };
    for (size_t i = 0; i < sizeof conv_bad / sizeof conv_bad[0]; i++) {
        c = f.conv;
        set_conv_field(&c, conv_bad[i].field, conv_bad[i].value);
        ps_dims yd = f.yd;
        if (conv_bad[i].want == PS_OK) {
            yd.h = 1; /* stride_h INT32_MAX: one output row */
        }
        expect_conv(&f, &c, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &yd, f.y, conv_bad[i].want,
                    conv_bad[i].what);
    }
    const struct { int32_t in_zp, out_zp, lo, hi, requant, path; const char *what; } quant_bad[] = {
        {128, 0, -128, 127, 0, 0, "input_zp 128"},  {0, -129, -128, 127, 0, 0, "output_zp -129"},
        {0, 0, 5, 4, 0, 0, "act_min > act_max"},     {0, 0, -129, 127, 0, 0, "act_min -129"},
        {0, 0, -128, 128, 0, 0, "act_max 128"},      {0, 0, -128, 127, 7, 0, "requant 7"},
        {0, 0, -128, 127, -1, 0, "requant -1"},      {0, 0, -128, 127, 0, 99, "path 99"},
        {0, 0, -128, 127, 0, -1, "path -1"},
    };
    for (size_t i = 0; i < sizeof quant_bad / sizeof quant_bad[0]; i++) {
        q = f.quant;
        q.input_zp = quant_bad[i].in_zp;
        q.output_zp = quant_bad[i].out_zp;
        q.act_min = quant_bad[i].lo;
        q.act_max = quant_bad[i].hi;
        q.requant = (ps_requant_mode)quant_bad[i].requant;
        q.path = (ps_kernel_path)quant_bad[i].path;
        expect_conv(&f, &f.conv, &q, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_PARAM,
                    quant_bad[i].what);
    }
    const int32_t bad_mult[] = {(1 << 30) - 1, -1, INT32_MIN, 1};
    for (size_t i = 0; i < sizeof bad_mult / sizeof bad_mult[0]; i++) {
        f.mult[1] = bad_mult[i];
        expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_PARAM,
                    "multiplier out of range");
    }
    f.mult[1] = 1 << 30;
    const int32_t bad_shift[] = {31, -32, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof bad_shift / sizeof bad_shift[0]; i++) {
        f.shift[2] = bad_shift[i];
        expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_PARAM,
                    "shift out of range");
    }
    f.shift[2] = -3;
    /* accumulator bound: |bias| + max|x - zp| * sum|w| > INT32_MAX */
    f.bias[1] = INT32_MAX;
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_OVERFLOW,
                "bias INT32_MAX");
    f.bias[1] = INT32_MIN;
    expect_conv(&f, &f.conv, &f.quant, &f.xd, f.x, &f.wd, f.w, f.bias, &f.yd, f.y, PS_ERR_OVERFLOW,
                "bias INT32_MIN");
    f.bias[1] = 100;

    /* fused: scratch of exactly the declared size works; one byte short, misaligned, NULL don't */
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, f.scratch,
                 f.need, PS_OK, "fused valid");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, f.scratch,
                 f.need - 1, PS_ERR_SCRATCH, "scratch one byte short");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, f.scratch,
                 0, PS_ERR_SCRATCH, "scratch 0 bytes");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py,
                 (char *)f.scratch + 1, f.need, PS_ERR_SCRATCH, "misaligned scratch");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, NULL, f.need,
                 PS_ERR_NULL, "scratch NULL");
    expect_fused(&f, &f.conv, &f.quant, NULL, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, f.scratch, f.need,
                 PS_ERR_NULL, "pool NULL");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, NULL, f.scratch,
                 f.need, PS_ERR_NULL, "fused y NULL");
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, NULL, f.py, f.scratch,
                 f.need, PS_ERR_NULL, "fused y dims NULL");
    expect_fused(&f, NULL, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, f.scratch, f.need,
                 PS_ERR_NULL, "fused conv NULL");
    d = (ps_dims){1, 2, 2, 3};
    expect_fused(&f, &f.conv, &f.quant, &f.pool, &f.xd, f.x, &f.wd, f.w, &d, f.py, f.scratch, f.need,
                 PS_ERR_OUTPUT_SIZE, "fused y dims");
    const struct { int field; int32_t value; ps_status want; const char *what; } pool_bad[] = {
        {0, 0, PS_ERR_PARAM, "pool_h 0"},      {1, -1, PS_ERR_PARAM, "pool_w -1"},
        {2, 0, PS_ERR_PARAM, "pool stride 0"}, {4, 2, PS_ERR_PARAM, "pool pad_top = pool_h"},
        {7, 5, PS_ERR_PARAM, "pool pad_right > pool_w"}, {6, -1, PS_ERR_PARAM, "pool pad_left -1"},
        {8, 9, PS_ERR_PARAM, "rounding 9"},    {9, 1, PS_OK, "pool act_min 1"},
        {10, 128, PS_ERR_PARAM, "pool act_max 128"}, {11, PS_PATH_REF, PS_OK, "pool path ref"},
        {11, 42, PS_ERR_PARAM, "pool path 42 (a fused op runs on quant.path, but checks this)"},
        {0, 5, PS_ERR_OUTPUT_SIZE, "pool_h 5 > 4 conv rows"},
        {0, INT32_MAX, PS_ERR_PARAM, "pool_h INT32_MAX (window sum bound)"},
        {8, PS_ROUND_FLOOR, PS_OK, "floor, 4-windows"},
    };
    for (size_t i = 0; i < sizeof pool_bad / sizeof pool_bad[0]; i++) {
        p = f.pool;
        set_pool_field(&p, pool_bad[i].field, pool_bad[i].value);
        /* the size function answers for anything (0 where the pool is invalid); the
         * rejected ones must not need the scratch they were given */
        size_t need = ps_conv2d_avgpool_scratch_size(&f.conv, &p, &f.xd, &f.wd);
        if (pool_bad[i].want != PS_OK || need > ((size_t)1 << 20)) {
            need = f.need;
        }
        void *s = xmalloc(need);
        expect_fused(&f, &f.conv, &f.quant, &p, &f.xd, f.x, &f.wd, f.w, &f.pd, f.py, s, need,
                     pool_bad[i].want, pool_bad[i].what);
        free(s);
    }
    p = f.pool;
    p.pool_h = 3; /* 3-row windows: floor is PS_ERR_POOL_COUNT (4 conv rows -> 1 window of 3) */
    p.rounding = PS_ROUND_FLOOR;
    d = (ps_dims){1, 1, 1, 3};
    {
        size_t need = ps_conv2d_avgpool_scratch_size(&f.conv, &p, &f.xd, &f.wd);
        void *s = xmalloc(need);
        memset(f.py, SENTINEL, 6);
        kernel_calls++;
        ps_status st = ps_conv2d_avgpool(&f.conv, &f.quant, &p, &f.xd, f.x, &f.wd, f.w, f.bias, &d,
                                         f.py, s, need);
        CHECK_STATUS(st, PS_ERR_POOL_COUNT, "fused floor 3-count");
        CHECK(untouched(f.py, 6), "a rejected fused call wrote its output");
        free(s);
    }
    /* the scratch size functions on nonsense answer 0 instead of reading through NULL */
    CHECK(ps_conv2d_avgpool_scratch_size(NULL, &f.pool, &f.xd, &f.wd) == 0, "size(NULL conv)");
    CHECK(ps_conv2d_avgpool_scratch_size(&f.conv, NULL, &f.xd, &f.wd) == 0, "size(NULL pool)");
    CHECK(ps_depthwise_conv2d_avgpool_scratch_size(&f.conv, &f.pool, NULL, &f.wd) == 0, "size(NULL x)");
    CHECK(ps_pointwise_conv2d_avgpool_scratch_size(&f.pool, &f.xd, NULL) == 0, "size(NULL w)");
    (void)ps_conv2d_scratch_size(NULL, NULL, NULL);
    (void)ps_depthwise_conv2d_scratch_size(NULL, NULL, NULL);
    (void)ps_pointwise_conv2d_scratch_size(NULL, NULL);
    (void)ps_fully_connected_scratch_size(NULL, NULL);

    /* the other kernels' NULLs and shapes */
    {
        ps_status st;
        kernel_calls += 12;
        st = ps_depthwise_conv2d(&f.conv, &f.quant, &f.xd, f.x, &f.dwd, NULL, NULL, &f.dyd, f.y, NULL, 0);
        CHECK_STATUS(st, PS_ERR_NULL, "depthwise w NULL");
        st = ps_depthwise_conv2d(&f.conv, &f.quant, &f.xd, f.x, &f.dwd, f.dw, NULL, &f.dyd, NULL, NULL, 0);
        CHECK_STATUS(st, PS_ERR_NULL, "depthwise y NULL");
        c = f.conv;
        c.depth_multiplier = 0;
        st = ps_depthwise_conv2d(&c, &f.quant, &f.xd, f.x, &f.dwd, f.dw, NULL, &f.dyd, f.y, NULL, 0);
        CHECK_STATUS(st, PS_ERR_PARAM, "depth_multiplier 0");
        c.depth_multiplier = INT32_MAX; /* C_in * M overflows int32: a shape mismatch, not UB */
        st = ps_depthwise_conv2d(&c, &f.quant, &f.xd, f.x, &f.dwd, f.dw, NULL, &f.dyd, f.y, NULL, 0);
        CHECK_STATUS(st, PS_ERR_SHAPE, "depth_multiplier INT32_MAX");
        d = (ps_dims){2, 3, 3, 2};
        st = ps_depthwise_conv2d(&f.conv, &f.quant, &f.xd, f.x, &d, f.dw, NULL, &f.dyd, f.y, NULL, 0);
        CHECK_STATUS(st, PS_ERR_SHAPE, "depthwise filter n 2");
        ps_dims pwd = {3, 1, 1, 2}, pyd = {1, 6, 5, 3};
        int8_t *pw = random_int8(6, -127, 127), *big = xmalloc(90);
        st = ps_pointwise_conv2d(&f.quant, &f.xd, f.x, &pwd, pw, f.bias, &pyd, big, NULL, 0);
        CHECK_STATUS(st, PS_OK, "pointwise valid");
        st = ps_pointwise_conv2d(&f.quant, &f.xd, f.x, &f.wd, pw, f.bias, &pyd, big, NULL, 0);
        CHECK_STATUS(st, PS_ERR_SHAPE, "pointwise 3x3 filter");
        st = ps_pointwise_conv2d(NULL, &f.xd, f.x, &pwd, pw, f.bias, &pyd, big, NULL, 0);
        CHECK_STATUS(st, PS_ERR_NULL, "pointwise quant NULL");
        ps_dims fxd = {2, 1, 1, 2}, fyd = {2, 1, 1, 3};
        st = ps_fully_connected(&f.quant, &fxd, f.x, &pwd, pw, NULL, &fyd, big, NULL, 0);
        CHECK_STATUS(st, PS_OK, "fully connected valid");
        st = ps_fully_connected(&f.quant, &f.xd, f.x, &pwd, pw, NULL, &fyd, big, NULL, 0);
        CHECK_STATUS(st, PS_ERR_SHAPE, "fully connected with an image input");
        st = ps_fully_connected(&f.quant, NULL, f.x, &pwd, pw, NULL, &fyd, big, NULL, 0);
        CHECK_STATUS(st, PS_ERR_NULL, "fully connected x dims NULL");
        st = ps_fully_connected(&f.quant, &fxd, f.x, &pwd, pw, NULL, &fyd, NULL, NULL, 0);
        CHECK_STATUS(st, PS_ERR_NULL, "fully connected y NULL");
        ps_pool_params pp = f.pool;
        st = ps_avg_pool2d(NULL, &f.xd, f.x, &f.pd, f.py);
        CHECK_STATUS(st, PS_ERR_NULL, "avg_pool2d pool NULL");
        st = ps_max_pool2d(&pp, &f.xd, NULL, &f.pd, f.py);
        CHECK_STATUS(st, PS_ERR_NULL, "max_pool2d x NULL");
        st = ps_max_pool2d(&pp, &f.xd, f.x, NULL, f.py);
        CHECK_STATUS(st, PS_ERR_NULL, "max_pool2d y dims NULL");
        pp.path = (ps_kernel_path)42;
        ps_dims mpd = {1, 3, 2, 2};
        int8_t *my = xmalloc(12);
        st = ps_max_pool2d(&pp, &f.xd, f.x, &mpd, my);
        CHECK_STATUS(st, PS_ERR_PARAM, "max_pool2d path 42");
        pp.path = PS_PATH_AUTO;
        st = ps_max_pool2d(&pp, &f.xd, f.x, &mpd, my);
        CHECK_STATUS(st, PS_OK, "max_pool2d valid");
        free(pw), free(big), free(my);
    }
    /* softmax */
    {
        ps_softmax_params sp;
        CHECK_STATUS(ps_softmax_prepare(bits_of(0.1f), bits_of(1.0f), &sp), PS_OK, "softmax_prepare");
        int8_t *y = xmalloc(60);
        kernel_calls += 5;
        CHECK_STATUS(ps_softmax(NULL, 1, 60, f.x, y), PS_ERR_NULL, "softmax params NULL");
        CHECK_STATUS(ps_softmax(&sp, 1, 60, NULL, y), PS_ERR_NULL, "softmax x NULL");
        CHECK_STATUS(ps_softmax(&sp, 0, 60, f.x, y), PS_ERR_SHAPE, "softmax 0 rows");
        CHECK_STATUS(ps_softmax(&sp, 65536, 65536, f.x, y), PS_ERR_SHAPE, "softmax 2^32 elements");
        ps_softmax_params badp = sp;
        badp.input_multiplier = 5;
        CHECK_STATUS(ps_softmax(&badp, 1, 60, f.x, y), PS_ERR_PARAM, "softmax multiplier 5");
        badp = sp;
        badp.input_left_shift = 32;
        CHECK_STATUS(ps_softmax(&badp, 1, 60, f.x, y), PS_ERR_PARAM, "softmax shift 32");
        badp = sp;
        badp.diff_min = 1;
        CHECK_STATUS(ps_softmax(&badp, 1, 60, f.x, y), PS_ERR_PARAM, "softmax diff_min 1");
        CHECK_STATUS(ps_softmax(&sp, 6, 10, f.x, y), PS_OK, "softmax 6x10");
        free(y);
    }
    /* every status has a message; unknown ones too */
    for (int s = 0; s <= 8; s++) {
        const char *m = ps_status_message((ps_status)s);
        CHECK(m != NULL && m[0] != '\0', "status %d has no message", s);
    }
    CHECK(ps_kernel_path_supported(PS_PATH_REF) && ps_kernel_path_supported(PS_PATH_PORTABLE),
          "ref and portable are always available");
    CHECK(!ps_kernel_path_supported((ps_kernel_path)17), "path 17 is not a path");
    CHECK(ps_kernel_path_resolve(PS_PATH_AUTO) != PS_PATH_AUTO, "auto resolves");
    CHECK(ps_kernel_path_resolve((ps_kernel_path)17) == PS_PATH_AUTO, "unknown resolves to auto");
    fixture_free(&f);
}

int main(int argc, char **argv)
{
    int random_count = argc > 1 ? atoi(argv[1]) : 60;
    printf("paths:");
    for (size_t p = 0; p < N_PATHS; p++) {
        if (ps_kernel_path_supported(ALL_PATHS[p])) {
            printf(" %s", PATH_NAMES[ALL_PATHS[p]]);
        }
    }
    printf(" (auto = %s)\n", PATH_NAMES[ps_kernel_path_resolve(PS_PATH_AUTO)]);
    known_answers();
    edge_shapes();
    random_layers(random_count);
    random_softmax(random_count / 3 + 1);
    status_paths();
    printf("kernel_driver: digest %016llx\n", (unsigned long long)digest);
    printf("kernel_driver: %ld checks, %ld failed, %ld kernel calls, %d random layers\n", checks,
           failures, kernel_calls, random_count);
    return failures == 0 ? 0 : 1;
}
