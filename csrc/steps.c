/* ps_run_steps: a model's calls, made from C in one go (see pyshrink.h). */
#include "pyshrink.h"

#include <stddef.h>

static ps_status run_conv(const ps_step *s)
{
    if (s->op == PS_STEP_CONV2D) {
        return ps_conv2d(s->conv, s->quant, s->input_dims, s->input, s->filter_dims, s->filter,
                         s->bias, s->output_dims, s->output, s->scratch, s->scratch_bytes);
    }
    if (s->op == PS_STEP_DEPTHWISE_CONV2D) {
        return ps_depthwise_conv2d(s->conv, s->quant, s->input_dims, s->input, s->filter_dims,
                                   s->filter, s->bias, s->output_dims, s->output, s->scratch,
                                   s->scratch_bytes);
    }
    if (s->op == PS_STEP_POINTWISE_CONV2D) {
        return ps_pointwise_conv2d(s->quant, s->input_dims, s->input, s->filter_dims, s->filter,
                                   s->bias, s->output_dims, s->output, s->scratch,
                                   s->scratch_bytes);
    }
    return ps_fully_connected(s->quant, s->input_dims, s->input, s->filter_dims, s->filter,
                              s->bias, s->output_dims, s->output, s->scratch, s->scratch_bytes);
}

static ps_status run_fused(const ps_step *s)
{
    if (s->op == PS_STEP_CONV2D_AVGPOOL) {
        return ps_conv2d_avgpool(s->conv, s->quant, s->pool, s->input_dims, s->input,
                                 s->filter_dims, s->filter, s->bias, s->output_dims, s->output,
                                 s->scratch, s->scratch_bytes);
    }
    if (s->op == PS_STEP_DEPTHWISE_CONV2D_AVGPOOL) {
        return ps_depthwise_conv2d_avgpool(s->conv, s->quant, s->pool, s->input_dims, s->input,
                                           s->filter_dims, s->filter, s->bias, s->output_dims,
                                           s->output, s->scratch, s->scratch_bytes);
    }
    return ps_pointwise_conv2d_avgpool(s->quant, s->pool, s->input_dims, s->input,
                                       s->filter_dims, s->filter, s->bias, s->output_dims,
                                       s->output, s->scratch, s->scratch_bytes);
}

/* Direct calls only, in ranges of the enum: no function pointer (a firmware's stack bound
 * follows direct calls exactly) and no switch over ten cases (a jump table, which ARMv6-M
 * builds take from libgcc). */
static ps_status run_step(const ps_step *s)
{
    const unsigned op = (unsigned)s->op; /* whatever a caller's memory holds is checked */
    if (op <= (unsigned)PS_STEP_FULLY_CONNECTED) {
        return run_conv(s);
    }
    if (op == (unsigned)PS_STEP_AVG_POOL2D) {
        return ps_avg_pool2d(s->pool, s->input_dims, s->input, s->output_dims, s->output);
    }
    if (op == (unsigned)PS_STEP_MAX_POOL2D) {
        return ps_max_pool2d(s->pool, s->input_dims, s->input, s->output_dims, s->output);
    }
    if (op <= (unsigned)PS_STEP_POINTWISE_CONV2D_AVGPOOL) {
        return run_fused(s);
    }
    if (op == (unsigned)PS_STEP_SOFTMAX) {
        return ps_softmax(s->softmax, s->rows, s->depth, s->input, s->output);
    }
    return PS_ERR_PARAM;
}

ps_status ps_run_steps(const ps_step *steps, int32_t count, int32_t *failed)
{
    if (failed != NULL) {
        *failed = -1;
    }
    if (count < 0) {
        return PS_ERR_PARAM;
    }
    if (steps == NULL && count > 0) {
        return PS_ERR_NULL;
    }
    for (int32_t i = 0; i < count; i++) {
        const ps_status status = run_step(&steps[i]);
        if (status != PS_OK) {
            if (failed != NULL) {
                *failed = i;
            }
            return status;
        }
    }
    return PS_OK;
}
