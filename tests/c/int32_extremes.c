/*
 * Reproducer: the fused kernels at the int32 extremes of their geometry. The arguments are all
 * valid (the kernels accept them): a 1x1x1x1 input, a 1x1 conv whose explicit padding makes the
 * conv output ~2^31 rows tall, and an average pool with a huge stride, so the pooled output is
 * two rows and the call is cheap. Each window holds padding only, so every output is the bias
 * (100) requantized by 2^30 / 2^31 = 50.
 *
 *   A. pool window end: padding (2^31 - 8, 0, 0, 0), pool (16, 1), pool stride (2^31 - 8, 1),
 *      pool padding (0, 15, 0, 0): the second window starts at conv row 2^31 - 8, and
 *      start + pool_h overflows int32 in ps_pool_window (internal.h).
 *   B. conv row origin: stride (3, 1), padding (2^31 - 1, 2^31 - 1, 0, 0), pool 1, pool stride
 *      (10^9, 1): the second pooled row reads conv row 10^9, whose input row origin
 *      oy * stride_h - pad_top overflows int32 (conv2d.c, portable.c, x86_avx2.c, x86_avx512.c).
 *   C, D. A and B with every padded extent exactly INT32_MAX (the largest the core accepts):
 *      two pooled rows. C: the second window ends at INT32_MAX - 1 and holds the last two
 *      conv rows, 50 (padding) and 51 (the input row: (100 + 1) / 2 rounded up), so 50.5 -> 51;
 *      D: the second pooled row is conv row 7 * 10^8, stride 3, padding only: 50. So C must
 *      give [50, 51] and D [50, 50] (the NumPy reference gives the same for small analogues).
 *
 * Built by tests/test_valgrind.py with -fsanitize=address,undefined -fno-sanitize-recover=all:
 * UBSan aborts on the first overflow. Without the sanitizer it checks the bytes on every kernel
 * path (before the fix, case A gave [50, 0] on the ref and portable paths, and [50, 51] on
 * AVX-512 when built without -fwrapv). Exit 0 when, on every path, A and B either give [50, 50]
 * or are rejected with a status without writing the output (the core now rejects a padded
 * extent above INT32_MAX: PS_ERR_OUTPUT_SIZE), and C and D compute their bytes.
 */
#include <stdint.h>
#include <stdio.h>

#include "pyshrink.h"

static const char *const PATH_NAMES[] = {"auto", "ref", "portable", "avx2", "avx512", "dsp"};

int main(void)
{
    const int32_t big = INT32_MAX;
    const int8_t x[1] = {1}, w[1] = {1};
    const int32_t bias[1] = {100}, mult[1] = {1 << 30}, shift[1] = {0};
    const ps_dims xd = {1, 1, 1, 1}, wd = {1, 1, 1, 1}, yd = {1, 2, 1, 1};
    struct {
        const char *name;
        ps_conv_params conv;
        ps_pool_params pool;
        int8_t want[2];
    } cases[4] = {
        {"A (pool window end)", {1, 1, 1, 1, big - 7, 0, 0, 0, 1},
         {16, 1, big - 7, 1, 0, 15, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO}, {50, 50}},
        {"B (conv row origin)", {3, 1, 1, 1, big, big, 0, 0, 1},
         {1, 1, 1000000000, 1, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO}, {50, 50}},
        /* every padded extent exactly INT32_MAX: valid, must be computed */
        {"C (A at the limit)", {1, 1, 1, 1, big - 16, 0, 0, 0, 1},
         {16, 1, big - 17, 1, 0, 15, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO}, {50, 51}},
        {"D (B at the limit)", {3, 1, 1, 1, big / 2, big / 2, 0, 0, 1},
         {1, 1, 700000000, 1, 0, 0, 0, 0, PS_ROUND_TFLITE, -128, 127, PS_PATH_AUTO}, {50, 50}},
    };
    int bad = 0;
    for (int c = 0; c < 4; c++) {
        for (int p = PS_PATH_REF; p <= PS_PATH_DSP; p++) {
            if (!ps_kernel_path_supported((ps_kernel_path)p)) {
                continue;
            }
            ps_quant_params q = {0, 0, mult, shift, -128, 127, PS_REQUANT_DOUBLE, (ps_kernel_path)p};
            int32_t scratch[8];
            size_t need = ps_conv2d_avgpool_scratch_size(&cases[c].conv, &cases[c].pool, &xd, &wd);
            int8_t y[2] = {0x55, 0x55};
            ps_status st = need > sizeof scratch
                               ? PS_ERR_SCRATCH
                               : ps_conv2d_avgpool(&cases[c].conv, &q, &cases[c].pool, &xd, x, &wd, w,
                                                   bias, &yd, y, scratch, need);
            const int8_t *want = cases[c].want;
            int ok = st == PS_OK ? y[0] == want[0] && y[1] == want[1]
                                 : c < 2 && y[0] == 0x55 && y[1] == 0x55;
            printf("%s [%s]: status %d, output [%d, %d]%s\n", cases[c].name, PATH_NAMES[p], (int)st,
                   y[0], y[1], ok ? "" : "  <- wrong bytes, or a wrong status, or a rejected call wrote");
            bad += !ok;
        }
    }
    return bad == 0 ? 0 : 1;
}
