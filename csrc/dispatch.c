/*
 * Kernel paths: which implementation runs a conv-like op, and the plain (unfused) driver.
 *
 * Every path computes the same bytes. PS_PATH_REF is the plain loop nest of conv2d.c,
 * depthwise_conv2d.c and pointwise_conv2d.c; PS_PATH_PORTABLE (portable.c) is C99 with
 * loop orders compilers vectorise; PS_PATH_AVX2 and PS_PATH_AVX512 (x86_avx2.c,
 * x86_avx512.c) are compiled for those instruction sets through function attributes, in
 * GCC/Clang x86-64 builds only, and run only where the CPU reports them. The CPU is asked
 * on every call: the core keeps no state. PS_PATH_DSP (arm_dsp.c) is the Cortex-M DSP
 * instructions where the compiler targets them (AUTO picks it there), the same operations
 * in C99 on other hosts, and left out of Arm builds without the extension.
 */
#include "internal.h"
#include "pyshrink.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define PS_X86 1
#else
#define PS_X86 0
#endif

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define PS_ARM_DSP 1 /* Armv7E-M / Armv8-M with the DSP extension: M4, M7, M33, M55 */
#else
#define PS_ARM_DSP 0
#endif

int ps_kernel_path_supported(ps_kernel_path path)
{
    if (path == PS_PATH_DSP) { /* apart from the switch: no case table (a libgcc helper on M0+) */
        return PS_DSP_PATH_BUILT;
    }
    switch (path) {
    case PS_PATH_AUTO:
    case PS_PATH_REF:
    case PS_PATH_PORTABLE:
        return 1;
    case PS_PATH_AVX2:
#if PS_X86
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
        return 0;
#endif
    case PS_PATH_AVX512:
#if PS_X86
        __builtin_cpu_init();
        return (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
                   ? 1
                   : 0;
#else
        return 0;
#endif
    default: /* PS_PATH_DSP: above; unknown values */
        break;
    }
    return 0;
}

ps_kernel_path ps_kernel_path_resolve(ps_kernel_path path)
{
    if (path == PS_PATH_AUTO) {
        if (PS_ARM_DSP) {
            return PS_PATH_DSP;
        }
        if (ps_kernel_path_supported(PS_PATH_AVX512)) {
            return PS_PATH_AVX512;
        }
        if (ps_kernel_path_supported(PS_PATH_AVX2)) {
            return PS_PATH_AVX2;
        }
        return PS_PATH_PORTABLE;
    }
    if (path != PS_PATH_REF && path != PS_PATH_PORTABLE && path != PS_PATH_AVX2 &&
        path != PS_PATH_AVX512 && path != PS_PATH_DSP) {
        return PS_PATH_AUTO;
    }
    return ps_kernel_path_supported(path) ? path : PS_PATH_AUTO;
}

ps_status ps_resolve_path(ps_kernel_path requested, ps_kernel_path *resolved)
{
    ps_kernel_path path = ps_kernel_path_resolve(requested);
    if (path == PS_PATH_AUTO) {
        return PS_ERR_PARAM; /* unknown, or not available in this build / on this CPU */
    }
    *resolved = path;
    return PS_OK;
}

/* ---- the reference path: the plain row functions, all channels at once ------------- */

static int32_t ref_prepare(ps_conv_exec *ex, int32_t oc0)
{
    (void)oc0;
    ex->oc0 = 0;
    ex->oc1 = ex->op->out_c;
    return ex->oc1;
}

static void ref_row(const ps_conv_exec *ex, int32_t n, int32_t oy, int32_t ox0, int32_t ox1,
                    int8_t *dst, int32_t dst_stride)
{
    (void)dst_stride; /* == out_c: the one chunk is every channel */
    switch (ex->op->kind) {
    case PS_KIND_CONV2D:
        ps_conv2d_row(ex->op, n, oy, ox0, ox1, dst);
        break;
    case PS_KIND_DEPTHWISE:
        ps_depthwise_conv2d_row(ex->op, n, oy, ox0, ox1, dst);
        break;
    case PS_KIND_POINTWISE:
        ps_pointwise_conv2d_row(ex->op, n, oy, ox0, ox1, dst);
        break;
    }
}

static void run_ref(const ps_conv_op *op, const ps_conv_job *job)
{
    ps_conv_exec ex = {op, ref_prepare, ref_row, NULL, NULL, 0, 0, NULL, NULL};
    ps_conv_drive(&ex, job);
}

void ps_conv_execute(const ps_conv_op *op, const ps_conv_job *job)
{
    if (op->path == PS_PATH_DSP) { /* apart from the switch, as above */
        ps_conv_run_dsp(op, job);
        return;
    }
    switch (op->path) {
    case PS_PATH_AVX512:
        ps_conv_run_avx512(op, job);
        return;
    case PS_PATH_AVX2:
        ps_conv_run_avx2(op, job);
        return;
    case PS_PATH_PORTABLE:
        ps_conv_run_portable(op, job);
        return;
    case PS_PATH_REF:
    case PS_PATH_AUTO:
    default: /* PS_PATH_DSP: above */
        break;
    }
    run_ref(op, job);
}

void ps_conv_drive(ps_conv_exec *ex, const ps_conv_job *job)
{
    if (job->pool != NULL) {
        ps_fused_drive(ex, job);
        return;
    }
    const ps_conv_op *op = ex->op;
    const size_t row_bytes = (size_t)op->out_w * op->out_c;
    for (int32_t oc0 = 0; oc0 < op->out_c; oc0 = ex->oc1) {
        ex->prepare(ex, oc0);
        for (int32_t n = 0; n < op->batch; n++) {
            for (int32_t oy = 0; oy < op->out_h; oy++) {
                ex->row(ex, n, oy, 0, op->out_w,
                        job->output + ((size_t)n * op->out_h + oy) * row_bytes + oc0, op->out_c);
            }
        }
    }
}
