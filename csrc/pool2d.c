/* int8 avg_pool2d and max_pool2d over windows clipped to the input (padding not counted).
 * PS_PATH_REF runs the plain loops (channel outermost); PS_PATH_PORTABLE the
 * channel-innermost ones below, which compilers vectorise; the x86 paths their own
 * (x86_avx2.c, x86_avx512.c). */
#include "internal.h"
#include "pyshrink.h"

static ps_status pool_setup(const ps_pool_params *pool, const ps_dims *input_dims,
                            const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    if (input == NULL || output == NULL) {
        return PS_ERR_NULL;
    }
    PS_RETURN_IF_ERROR(ps_check_dims(input_dims));
    int32_t out_h, out_w;
    PS_RETURN_IF_ERROR(ps_pool_prepare(pool, input_dims->h, input_dims->w, &out_h, &out_w));
    return ps_check_output_dims(output_dims, input_dims->n, out_h, out_w, input_dims->c);
}

/* Channels per chunk of the fast kernels' stack sums. */
#define PS_POOL_CHUNK 64

/* Every path but PS_PATH_REF: channels innermost (contiguous in NHWC), so the window
 * loops vectorise; the averages share the window's count (ps_pool_average_run). */
void ps_avg_pool2d_fast(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    int32_t sums[PS_POOL_CHUNK];
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                const int32_t count = (y1 - y0) * (x1 - x0);
                for (int32_t c0 = 0; c0 < c; c0 += PS_POOL_CHUNK) {
                    const int32_t len = c - c0 < PS_POOL_CHUNK ? c - c0 : PS_POOL_CHUNK;
                    for (int32_t i = 0; i < len; i++) {
                        sums[i] = 0;
                    }
                    for (int32_t y = y0; y < y1; y++) {
                        for (int32_t x = x0; x < x1; x++) {
                            const int8_t *v = image + ((size_t)y * in_w + x) * c + c0;
                            for (int32_t i = 0; i < len; i++) {
                                sums[i] += v[i];
                            }
                        }
                    }
                    ps_pool_average_run(sums, count, len, pool, output + c0);
                }
                output += c;
            }
        }
    }
}

void ps_max_pool2d_fast(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    const int8_t lo = (int8_t)pool->act_min, hi = (int8_t)pool->act_max;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                /* the first window position initialises, the others take the maximum */
                const int8_t *first = image + ((size_t)y0 * in_w + x0) * c;
                for (int32_t i = 0; i < c; i++) {
                    output[i] = first[i];
                }
                for (int32_t y = y0; y < y1; y++) {
                    for (int32_t x = y == y0 ? x0 + 1 : x0; x < x1; x++) {
                        const int8_t *v = image + ((size_t)y * in_w + x) * c;
                        for (int32_t i = 0; i < c; i++) {
                            output[i] = v[i] > output[i] ? v[i] : output[i];
                        }
                    }
                }
                for (int32_t i = 0; i < c; i++) {
                    int8_t m = output[i] < lo ? lo : output[i];
                    output[i] = m > hi ? hi : m;
                }
                output += c;
            }
        }
    }
}

ps_status ps_avg_pool2d(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    PS_RETURN_IF_ERROR(pool_setup(pool, input_dims, input, output_dims, output));
    const ps_kernel_path path = ps_kernel_path_resolve(pool->path);
    if (path == PS_PATH_DSP) { /* the dsp path pools with the portable loops */
        ps_avg_pool2d_fast(pool, input_dims, input, output_dims, output);
        return PS_OK;
    }
    switch (path) {
    case PS_PATH_AVX512:
        ps_avg_pool2d_avx512(pool, input_dims, input, output_dims, output);
        return PS_OK;
    case PS_PATH_AVX2:
        ps_avg_pool2d_avx2(pool, input_dims, input, output_dims, output);
        return PS_OK;
    case PS_PATH_PORTABLE:
        ps_avg_pool2d_fast(pool, input_dims, input, output_dims, output);
        return PS_OK;
    default:
        break; /* PS_PATH_REF: the plain loops below */
    }
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                const int32_t count = (y1 - y0) * (x1 - x0);
                for (int32_t ch = 0; ch < c; ch++) {
                    int32_t sum = 0;
                    for (int32_t y = y0; y < y1; y++) {
                        for (int32_t x = x0; x < x1; x++) {
                            sum += image[((size_t)y * in_w + x) * c + ch];
                        }
                    }
                    *output++ = ps_pool_average(sum, count, pool);
                }
            }
        }
    }
    return PS_OK;
}

ps_status ps_max_pool2d(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output)
{
    PS_RETURN_IF_ERROR(pool_setup(pool, input_dims, input, output_dims, output));
    const ps_kernel_path path = ps_kernel_path_resolve(pool->path);
    if (path == PS_PATH_DSP) { /* the dsp path pools with the portable loops */
        ps_max_pool2d_fast(pool, input_dims, input, output_dims, output);
        return PS_OK;
    }
    switch (path) {
    case PS_PATH_AVX512:
        ps_max_pool2d_avx512(pool, input_dims, input, output_dims, output);
        return PS_OK;
    case PS_PATH_AVX2:
        ps_max_pool2d_avx2(pool, input_dims, input, output_dims, output);
        return PS_OK;
    case PS_PATH_PORTABLE:
        ps_max_pool2d_fast(pool, input_dims, input, output_dims, output);
        return PS_OK;
    default:
        break; /* PS_PATH_REF: the plain loops below */
    }
    const int32_t in_h = input_dims->h, in_w = input_dims->w, c = input_dims->c;
    for (int32_t n = 0; n < input_dims->n; n++) {
        const int8_t *image = input + (size_t)n * in_h * in_w * c;
        for (int32_t py = 0; py < output_dims->h; py++) {
            int32_t y0, y1;
            ps_pool_window(py, pool->stride_h, pool->pad_top, pool->pool_h, in_h, &y0, &y1);
            for (int32_t px = 0; px < output_dims->w; px++) {
                int32_t x0, x1;
                ps_pool_window(px, pool->stride_w, pool->pad_left, pool->pool_w, in_w, &x0, &x1);
                for (int32_t ch = 0; ch < c; ch++) {
                    int32_t best = -128;
                    for (int32_t y = y0; y < y1; y++) {
                        for (int32_t x = x0; x < x1; x++) {
                            int32_t v = image[((size_t)y * in_w + x) * c + ch];
                            best = v > best ? v : best;
                        }
                    }
                    best = best < pool->act_min ? pool->act_min : best;
                    best = best > pool->act_max ? pool->act_max : best;
                    *output++ = (int8_t)best;
                }
            }
        }
    }
    return PS_OK;
}
