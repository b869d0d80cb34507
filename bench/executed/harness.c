/* Harness for bench/executed_counts.py: calls one CMSIS-NN s8 kernel as TFLM would.
 *
 * The Python driver loads this firmware into an instruction-level emulator, fills `job` and the data
 * regions it points to, runs harness_prepare() (buffer sizes and the kernel sums TFLM computes in Prepare;
 * not counted), then counts what harness_run() executes. All fields of job_t are 32-bit words, in the
 * order of JOB_FIELDS in the driver; job_words lets the driver check that.
 */
#include <stdint.h>

#include "arm_nnfunctions.h"

enum kernel_id
{
    CONVOLVE_WRAPPER_S8,
    CONVOLVE_1X1_S8_FAST,
    CONVOLVE_1X1_S8,
    CONVOLVE_S8,
    CONVOLVE_1_X_N_S8,
    DEPTHWISE_CONV_WRAPPER_S8,
    DEPTHWISE_CONV_3X3_S8,
    DEPTHWISE_CONV_S8_OPT,
    DEPTHWISE_CONV_S8,
    FULLY_CONNECTED_S8,
    ELEMENTWISE_ADD_S8,
    AVGPOOL_S8,
    SOFTMAX_S8,
};

typedef struct
{
    int32_t kernel;
    int32_t status;
    cmsis_nn_dims input, filter, bias, output;
    int32_t stride_w, stride_h, pad_w, pad_h, dilation_w, dilation_h, ch_mult;
    int32_t input_offset, filter_offset, output_offset, act_min, act_max;
    /* elementwise add (input_mult/shift of input 1 also the softmax multiplier and shift) */
    int32_t input2_offset, input_mult, input_shift, input2_mult, input2_shift, left_shift;
    int32_t output_mult, output_shift, diff_min;
    const int8_t *input_data;
    const int8_t *input2_data;
    const int8_t *filter_data;
    const int32_t *bias_data;
    int32_t *multipliers;
    int32_t *shifts;
    int8_t *output_data;
    void *scratch;
    int32_t scratch_size;
} job_t;

/* At an address the linker script sets, outside the firmware image: the driver writes it before each call. */
extern job_t job;
const uint32_t job_words = sizeof(job_t) / sizeof(uint32_t);

static cmsis_nn_context ctx;
static cmsis_nn_conv_params conv;
static cmsis_nn_dw_conv_params dw;
static cmsis_nn_fc_params fc;
static cmsis_nn_pool_params pool;
static cmsis_nn_per_channel_quant_params per_channel;
static cmsis_nn_per_tensor_quant_params per_tensor;

static int32_t scratch_size(void)
{
    switch (job.kernel)
    {
    case CONVOLVE_WRAPPER_S8:
        return arm_convolve_wrapper_s8_get_buffer_size(&conv, &job.input, &job.filter, &job.output);
    case CONVOLVE_1X1_S8_FAST:
        return arm_convolve_1x1_s8_fast_get_buffer_size(&job.input);
    case CONVOLVE_S8:
        return arm_convolve_s8_get_buffer_size(&job.input, &job.filter);
    case CONVOLVE_1_X_N_S8:
        return arm_convolve_1_x_n_s8_get_buffer_size(&conv, &job.input, &job.filter, &job.output);
    case DEPTHWISE_CONV_WRAPPER_S8:
        return arm_depthwise_conv_wrapper_s8_get_buffer_size(&dw, &job.input, &job.filter, &job.output);
    case DEPTHWISE_CONV_S8_OPT:
        return arm_depthwise_conv_s8_opt_get_buffer_size(&job.input, &job.filter);
    case FULLY_CONNECTED_S8:
        return arm_fully_connected_s8_get_buffer_size(&job.filter);
    case AVGPOOL_S8:
        return arm_avgpool_s8_get_buffer_size(job.output.w, job.input.c);
    default:
        return 0;
    }
}

/* What TFLM does in Prepare: fill the parameter structs, size the scratch buffer, precompute kernel sums. */
void harness_prepare(void)
{
    const cmsis_nn_tile stride = {job.stride_w, job.stride_h};
    const cmsis_nn_tile padding = {job.pad_w, job.pad_h};
    const cmsis_nn_tile dilation = {job.dilation_w, job.dilation_h};
    const cmsis_nn_activation activation = {job.act_min, job.act_max};

    conv = (cmsis_nn_conv_params){job.input_offset, job.output_offset, stride, padding, dilation, activation};
    dw = (cmsis_nn_dw_conv_params){
        job.input_offset, job.output_offset, job.ch_mult, stride, padding, dilation, activation};
    fc = (cmsis_nn_fc_params){job.input_offset, job.filter_offset, job.output_offset, activation};
    pool = (cmsis_nn_pool_params){stride, padding, activation};
    per_channel = (cmsis_nn_per_channel_quant_params){job.multipliers, job.shifts};
    per_tensor = (cmsis_nn_per_tensor_quant_params){job.output_mult, job.output_shift};

    job.scratch_size = scratch_size();
    ctx.buf = job.scratch_size > 0 ? job.scratch : 0;
    ctx.size = job.scratch_size;
    if (job.kernel == FULLY_CONNECTED_S8 && job.scratch_size > 0)
    {
        /* MVE: TFLM stores the filter's row sums (times the input offset, plus bias) in Prepare. */
        arm_vector_sum_s8(
            (int32_t *)ctx.buf, job.filter.n, job.output.c, job.filter_data, job.input_offset, 0, job.bias_data);
    }
}

/* One kernel call, as TFLM's Eval makes it. */
void harness_run(void)
{
    switch (job.kernel)
    {
    case CONVOLVE_WRAPPER_S8:
        job.status = arm_convolve_wrapper_s8(&ctx, &conv, &per_channel, &job.input, job.input_data, &job.filter,
                                             job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case CONVOLVE_1X1_S8_FAST:
        job.status = arm_convolve_1x1_s8_fast(&ctx, &conv, &per_channel, &job.input, job.input_data, &job.filter,
                                              job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case CONVOLVE_1X1_S8:
        job.status = arm_convolve_1x1_s8(&ctx, &conv, &per_channel, &job.input, job.input_data, &job.filter,
                                         job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case CONVOLVE_S8:
        job.status = arm_convolve_s8(&ctx, &conv, &per_channel, &job.input, job.input_data, &job.filter,
                                     job.filter_data, &job.bias, job.bias_data, 0, &job.output, job.output_data);
        break;
    case CONVOLVE_1_X_N_S8:
        job.status = arm_convolve_1_x_n_s8(&ctx, &conv, &per_channel, &job.input, job.input_data, &job.filter,
                                           job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case DEPTHWISE_CONV_WRAPPER_S8:
        job.status = arm_depthwise_conv_wrapper_s8(&ctx, &dw, &per_channel, &job.input, job.input_data, &job.filter,
                                                   job.filter_data, &job.bias, job.bias_data, &job.output,
                                                   job.output_data);
        break;
    case DEPTHWISE_CONV_3X3_S8:
        job.status = arm_depthwise_conv_3x3_s8(&ctx, &dw, &per_channel, &job.input, job.input_data, &job.filter,
                                               job.filter_data, &job.bias, job.bias_data, &job.output,
                                               job.output_data);
        break;
    case DEPTHWISE_CONV_S8_OPT:
        job.status = arm_depthwise_conv_s8_opt(&ctx, &dw, &per_channel, &job.input, job.input_data, &job.filter,
                                               job.filter_data, &job.bias, job.bias_data, &job.output,
                                               job.output_data);
        break;
    case DEPTHWISE_CONV_S8:
        job.status = arm_depthwise_conv_s8(&ctx, &dw, &per_channel, &job.input, job.input_data, &job.filter,
                                           job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case FULLY_CONNECTED_S8:
        job.status = arm_fully_connected_s8(&ctx, &fc, &per_tensor, &job.input, job.input_data, &job.filter,
                                            job.filter_data, &job.bias, job.bias_data, &job.output, job.output_data);
        break;
    case ELEMENTWISE_ADD_S8:
        job.status = arm_elementwise_add_s8(job.input_data, job.input2_data, job.input_offset, job.input_mult,
                                            job.input_shift, job.input2_offset, job.input2_mult, job.input2_shift,
                                            job.left_shift, job.output_data, job.output_offset, job.output_mult,
                                            job.output_shift, job.act_min, job.act_max, job.output.c);
        break;
    case AVGPOOL_S8:
        job.status = arm_avgpool_s8(&ctx, &pool, &job.input, job.input_data, &job.filter, &job.output,
                                    job.output_data);
        break;
    case SOFTMAX_S8:
        arm_softmax_s8(job.input_data, job.input.n, job.input.c, job.input_mult, job.input_shift, job.diff_min,
                       job.output_data);
        job.status = 0;
        break;
    default:
        job.status = -1;
    }
}

/* The kernel's status, for a start-up code that reports it (qemu's exit code through semihosting). */
int32_t harness_status(void)
{
    return job.status;
}

/* The driver returns here (its address is the link register of both calls); never executed. */
void harness_done(void)
{
    for (;;)
    {
    }
}
