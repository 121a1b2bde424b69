/*
 * pyshrink: int8 convolution kernels for TinyML (TensorFlow Lite int8 arithmetic).
 *
 * The one public header of the C core. C99, no allocation, no globals, no
 * floating point in any int8 path. Every kernel validates its arguments and
 * returns a ps_status; a kernel that needs working memory has a
 * *_scratch_size() function beside it, and the caller passes that many bytes.
 *
 * Layouts (all C-contiguous):
 *   activations      int8  NHWC                       dims {n, h, w, c}
 *   conv2d filter    int8  (C_out, KH, KW, C_in)      dims {C_out, KH, KW, C_in}
 *   depthwise filter int8  (KH, KW, C_in * M)         dims {1, KH, KW, C_in * M}
 *   pointwise filter int8  (C_out, C_in)              dims {C_out, 1, 1, C_in}
 *   fully connected  int8  (units, features)          dims {units, 1, 1, features}
 *   bias             int32 (C_out,), or NULL for zeros
 * Fully connected input/output are dims {N, 1, 1, features} / {N, 1, 1, units}.
 */
#ifndef PYSHRINK_H
#define PYSHRINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cdef-begin: the build script hands the declarations from here to cdef-end to cffi */

typedef enum {
    PS_OK = 0,
    PS_ERR_NULL = 1,        /* a required pointer is NULL */
    PS_ERR_SHAPE = 2,       /* a dimension < 1, or shapes that do not fit together */
    PS_ERR_PARAM = 3,       /* a parameter outside its range */
    PS_ERR_OUTPUT_SIZE = 4, /* the output would be smaller than 1, or output dims differ */
    PS_ERR_POOL_COUNT = 5,  /* a shift rounding mode with a window count not a power of two */
    PS_ERR_OVERFLOW = 6,    /* the int32 accumulator could overflow for some input */
    PS_ERR_SCRATCH = 7      /* scratch buffer smaller than *_scratch_size() */
} ps_status;

/* A static, human-readable description of a status code. */
const char *ps_status_message(ps_status status);

typedef enum {
    PS_REQUANT_DOUBLE = 0, /* TFLite MultiplyByQuantizedMultiplier (SRDHM + RoundingDivideByPOT) */
    PS_REQUANT_SINGLE = 1  /* TFLITE_SINGLE_ROUNDING: (x*m + 2^(30-s)) >> (31-s) in 64 bits */
} ps_requant_mode;

typedef enum {
    PS_ROUND_TFLITE = 0,  /* round half away from zero; bit-exact with TFLite */
    PS_ROUND_FLOOR = 1,   /* sum >> log2(count); power-of-two counts only */
    PS_ROUND_HALF_UP = 2  /* (sum + count/2) >> log2(count); power-of-two counts only */
} ps_pool_rounding;

typedef struct {
    int32_t n, h, w, c;
} ps_dims;

/* Which implementation of a kernel runs. Every path gives the same bytes; they differ
 * only in speed. PS_PATH_AUTO (0, what a zero-initialised params struct holds) picks
 * the fastest path this build and CPU support, detected on each call (the C core keeps
 * no state). Asking for a path that is not available is PS_ERR_PARAM. */
typedef enum {
    PS_PATH_AUTO = 0,
    PS_PATH_REF = 1,      /* the plain C loops: the reference implementation, built everywhere */
    PS_PATH_PORTABLE = 2, /* C99, loop orders and blocking that compilers vectorise; everywhere */
    PS_PATH_AVX2 = 3,     /* x86-64 AVX2 (GCC/Clang builds), chosen at run time */
    PS_PATH_AVX512 = 4,   /* x86-64 AVX-512 F/BW/VL + VNNI (GCC/Clang builds), chosen at run time */
    PS_PATH_DSP = 5       /* Cortex-M DSP extension (SXTB16/SMLAD); C99 emulation elsewhere; everywhere */
} ps_kernel_path;

/* 1 if this build and CPU can run path (PS_PATH_AUTO: always 1), else 0. */
int ps_kernel_path_supported(ps_kernel_path path);

/* The path a call with `path` runs: PS_PATH_AUTO resolves to the fastest supported one;
 * any other supported path to itself; an unsupported or unknown one to PS_PATH_AUTO. */
ps_kernel_path ps_kernel_path_resolve(ps_kernel_path path);

/* Requantization of one conv-like op (conv2d, depthwise, pointwise, fully connected). */
typedef struct {
    int32_t input_zp;          /* [-128, 127] */
    int32_t output_zp;         /* [-128, 127] */
    const int32_t *multiplier; /* per output channel: 0 or [2^30, 2^31 - 1] */
    const int32_t *shift;      /* per output channel: [-31, 30] */
    int32_t act_min, act_max;  /* -128 <= act_min <= act_max <= 127 */
    ps_requant_mode requant;
    ps_kernel_path path;       /* PS_PATH_AUTO (0) unless a particular implementation is wanted */
} ps_quant_params;

/* Geometry of conv2d and depthwise_conv2d. Padding is explicit here:
 * "same"/"valid" are resolved by the caller (see SPEC.md, Geometry). */
typedef struct {
    int32_t stride_h, stride_w;         /* >= 1 */
    int32_t dilation_h, dilation_w;     /* >= 1 */
    int32_t pad_top, pad_bottom, pad_left, pad_right; /* >= 0 */
    int32_t depth_multiplier;           /* depthwise only (>= 1); ignored by conv2d */
} ps_conv_params;

/* Geometry and rounding of avg_pool2d / max_pool2d, and the pool half of a fused op. */
typedef struct {
    int32_t pool_h, pool_w;             /* >= 1 */
    int32_t stride_h, stride_w;         /* >= 1 */
    int32_t pad_top, pad_bottom, pad_left, pad_right; /* >= 0, each < the pool size */
    ps_pool_rounding rounding;          /* avg only; max pooling ignores it */
    int32_t act_min, act_max;           /* -128 <= act_min <= act_max <= 127 */
    ps_kernel_path path;                /* pools; a fused op runs on ps_quant_params.path, but
                                           still rejects an unknown value here (PS_ERR_PARAM) */
} ps_pool_params;

/* Output size of one spatial axis: (in + pad_lo + pad_hi - ((k-1)*d + 1)) / s + 1,
 * or a value < 1 where the (dilated) kernel does not fit or the padded extent
 * in + pad_lo + pad_hi exceeds INT32_MAX (kernels then return PS_ERR_OUTPUT_SIZE). */
int32_t ps_output_size(int32_t in, int32_t kernel, int32_t stride, int32_t dilation,
                       int32_t pad_lo, int32_t pad_hi);

/* TFLite's QuantizeMultiplier for count reals >= 0: frexp, round q * 2^31 half away
 * from zero, 2^31 -> 2^30 with shift + 1, shift < -31 -> (0, 0), shift > 30 ->
 * (2^31 - 1, 30). Done on the IEEE-754 bits with integer arithmetic only, so the
 * core needs no floating-point unit or library. NaN, inf or negative: PS_ERR_PARAM. */
ps_status ps_quantize_multiplier(const double *real, size_t count, int32_t *multiplier,
                                 int32_t *shift);

/* ---- convolutions --------------------------------------------------------------- */

size_t ps_conv2d_scratch_size(const ps_conv_params *conv, const ps_dims *input_dims,
                              const ps_dims *filter_dims);
ps_status ps_conv2d(const ps_conv_params *conv, const ps_quant_params *quant,
                    const ps_dims *input_dims, const int8_t *input,
                    const ps_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                    const ps_dims *output_dims, int8_t *output,
                    void *scratch, size_t scratch_bytes);

size_t ps_depthwise_conv2d_scratch_size(const ps_conv_params *conv, const ps_dims *input_dims,
                                        const ps_dims *filter_dims);
ps_status ps_depthwise_conv2d(const ps_conv_params *conv, const ps_quant_params *quant,
                              const ps_dims *input_dims, const int8_t *input,
                              const ps_dims *filter_dims, const int8_t *filter,
                              const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                              void *scratch, size_t scratch_bytes);

/* In place: with depth_multiplier 1, ps_depthwise_conv2d may write its output over its own
 * input. Its output may start exactly D bytes BEFORE its input (output = input - D) for
 * every D = *offset + t * C (t >= 0, C = input_dims->c), or not overlap the input at all;
 * the bytes are then those of separate buffers (the input is left partly overwritten).
 * Any other overlap is not allowed. *offset is a multiple of C (output pixel q lands on
 * the same channel of input pixel q - D / C) and the smallest safe one:
 *   *offset = C * max(0, max over output pixels q of (q - first(q))),
 * q = (n * out_h + y) * out_w + x, first(q) = the lowest input pixel index
 * (n * in_h + iy) * in_w + ix that q reads (taps in the padding read nothing), because every
 * kernel path writes each chunk of channels in increasing q, each pixel after reading all
 * of its taps. E.g. 3x3 stride 1 "same": C * (in_w + 1), about one input row instead of
 * the whole input; 3x3 stride 2 "same": 0. Costs one pass over out_h and out_w.
 * PS_ERR_PARAM for depth_multiplier != 1 (output channel oc reads input channel oc / M, so
 * outputs would overwrite other channels still to be read); otherwise the statuses of
 * ps_depthwise_conv2d's geometry checks (NULL, dims, parameters, filter shape, output size). */
ps_status ps_depthwise_conv2d_inplace_offset(const ps_conv_params *conv,
                                             const ps_dims *input_dims,
                                             const ps_dims *filter_dims, size_t *offset);

size_t ps_pointwise_conv2d_scratch_size(const ps_dims *input_dims, const ps_dims *filter_dims);
ps_status ps_pointwise_conv2d(const ps_quant_params *quant,
                              const ps_dims *input_dims, const int8_t *input,
                              const ps_dims *filter_dims, const int8_t *filter,
                              const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                              void *scratch, size_t scratch_bytes);

size_t ps_fully_connected_scratch_size(const ps_dims *input_dims, const ps_dims *filter_dims);
ps_status ps_fully_connected(const ps_quant_params *quant,
                             const ps_dims *input_dims, const int8_t *input,
                             const ps_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                             void *scratch, size_t scratch_bytes);

/* ---- pooling (no scratch) ------------------------------------------------------- */

ps_status ps_avg_pool2d(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);
ps_status ps_max_pool2d(const ps_pool_params *pool, const ps_dims *input_dims,
                        const int8_t *input, const ps_dims *output_dims, int8_t *output);

/* ---- fused convolution + average pooling ---------------------------------------
 * Exactly avg_pool2d(conv(x)) (conv requantized and clamped to int8 first), computed
 * tile by tile: the conv output is never held whole. Scratch does not grow with the
 * image height; for pools with stride >= window it does not grow with the width.
 * A *_scratch_size() of SIZE_MAX means the scratch cannot be addressed on this target. */

size_t ps_conv2d_avgpool_scratch_size(const ps_conv_params *conv, const ps_pool_params *pool,
                                      const ps_dims *input_dims, const ps_dims *filter_dims);
ps_status ps_conv2d_avgpool(const ps_conv_params *conv, const ps_quant_params *quant,
                            const ps_pool_params *pool,
                            const ps_dims *input_dims, const int8_t *input,
                            const ps_dims *filter_dims, const int8_t *filter,
                            const int32_t *bias, const ps_dims *output_dims, int8_t *output,
                            void *scratch, size_t scratch_bytes);

size_t ps_depthwise_conv2d_avgpool_scratch_size(const ps_conv_params *conv,
                                                const ps_pool_params *pool,
                                                const ps_dims *input_dims,
                                                const ps_dims *filter_dims);
ps_status ps_depthwise_conv2d_avgpool(const ps_conv_params *conv, const ps_quant_params *quant,
                                      const ps_pool_params *pool,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const ps_dims *output_dims,
                                      int8_t *output, void *scratch, size_t scratch_bytes);

size_t ps_pointwise_conv2d_avgpool_scratch_size(const ps_pool_params *pool,
                                                const ps_dims *input_dims,
                                                const ps_dims *filter_dims);
ps_status ps_pointwise_conv2d_avgpool(const ps_quant_params *quant, const ps_pool_params *pool,
                                      const ps_dims *input_dims, const int8_t *input,
                                      const ps_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const ps_dims *output_dims,
                                      int8_t *output, void *scratch, size_t scratch_bytes);

/* ---- softmax (no scratch) --------------------------------------------------------
 * int8 softmax over the last axis of a (rows, depth) tensor, bit-exact with TFLite's
 * reference kernel: output scale 1/256, zero point -128 (the converter enforces both).
 * input_scale and beta enter only through ps_softmax_prepare. */
typedef struct {
    int32_t input_multiplier; /* [2^30, 2^31 - 1]: beta * input_scale * 2^26 = m * 2^(s - 31) */
    int32_t input_left_shift; /* s, [0, 31] */
    int32_t diff_min;         /* [-((31 * 2^26) >> s), 0]: smaller x - max(row) give -128 */
} ps_softmax_params;

/* TFLite's PreprocessSoftmaxScaling + CalculateInputRadius for the model's float32
 * input scale and beta, each passed as its IEEE-754 binary32 bit pattern (C: memcpy a
 * float into a uint32_t; NumPy: np.float32(v).view(np.uint32)), so that no float crosses
 * the API: under the hard-float ABI a float argument would arrive in an FP register.
 * Integer arithmetic on those bits (no FPU): real = min(beta * input_scale * 2^26,
 * 2^31 - 1), (m, s) = QuantizeMultiplier(real) (s may be 31), diff_min =
 * -floor(31 * 2^26 / 2^s). PS_ERR_PARAM for a NaN, infinite, zero or negative (sign bit
 * set, -0 too) argument, or real <= 1 (where TFLite aborts). */
ps_status ps_softmax_prepare(uint32_t input_scale_bits, uint32_t beta_bits,
                             ps_softmax_params *params);

/* output[r, :] ~ -128 + round(256 * softmax(beta * input_scale * input[r, :])), exactly as
 * TFLite computes it in gemmlowp fixed point (see pyshrink.softmax's docstring). A row
 * whose sum of exps reaches 512 (where TFLite aborts) is all -128. output may be input
 * itself (in place), but must not overlap it otherwise. */
ps_status ps_softmax(const ps_softmax_params *params, int32_t rows, int32_t depth,
                     const int8_t *input, int8_t *output);

/* ---- a whole model in one call --------------------------------------------------
 * A step is one of the calls above with its arguments; ps_run_steps makes the calls in
 * order, each exactly as a direct call would (with all of its checks), so a host that
 * runs a model many times pays the cost of crossing into C once per run, not per step. */
typedef enum {
    PS_STEP_CONV2D = 0,
    PS_STEP_DEPTHWISE_CONV2D = 1,
    PS_STEP_POINTWISE_CONV2D = 2,
    PS_STEP_FULLY_CONNECTED = 3,
    PS_STEP_AVG_POOL2D = 4,
    PS_STEP_MAX_POOL2D = 5,
    PS_STEP_CONV2D_AVGPOOL = 6,
    PS_STEP_DEPTHWISE_CONV2D_AVGPOOL = 7,
    PS_STEP_POINTWISE_CONV2D_AVGPOOL = 8,
    PS_STEP_SOFTMAX = 9
} ps_step_op;

/* The arguments of ps_<op>(); those the op does not take are ignored. */
typedef struct {
    ps_step_op op;
    const ps_conv_params *conv;
    const ps_quant_params *quant;
    const ps_pool_params *pool;
    const ps_softmax_params *softmax;
    int32_t rows, depth; /* softmax */
    const ps_dims *input_dims;
    const int8_t *input;
    const ps_dims *filter_dims;
    const int8_t *filter;
    const int32_t *bias;
    const ps_dims *output_dims;
    int8_t *output;
    void *scratch;
    size_t scratch_bytes;
} ps_step;

/* Runs steps[0], ..., steps[count - 1]; stops at the first step whose call does not return
 * PS_OK and returns that status, with the step's index in *failed (if failed != NULL; -1
 * when every step ran). PS_ERR_NULL for steps == NULL with count > 0, PS_ERR_PARAM for
 * count < 0 or an unknown op (that step's index in *failed). */
ps_status ps_run_steps(const ps_step *steps, int32_t count, int32_t *failed);

/* cdef-end */

#ifdef __cplusplus
}
#endif

#endif /* PYSHRINK_H */
