#include <string.h>

#include "kernels/kernels.h"
#include "kernels/ref/ref.h"

#define REF_SLOT_(a, name, params) .name = pn_f32_##name##__ref,
#define REF_IMPL_(a, name, params) "scalar",
#define NAME_(a, name, params) #name,

const pn_kernels pn_kernels_ref = {
    .isa = "scalar",
    PN_KERNEL_OPS(REF_SLOT_, _).impl = {PN_KERNEL_OPS(REF_IMPL_, _)},
    .lanes = 1,
};

static const char *const op_names[PN_KOP_COUNT] = {PN_KERNEL_OPS(NAME_, _)};

const char *pn_kernel_op_name(pn_kernel_op op)
{
    return (int)op >= 0 && op < PN_KOP_COUNT ? op_names[op] : NULL;
}

#define FN_CASE_(a, name, params) \
    case PN_KOP_##name: return (void (*)(void))k->name;

void (*pn_kernel_fn(const pn_kernels *k, pn_kernel_op op))(void)
{
    switch (op) {
        PN_KERNEL_OPS(FN_CASE_, _)
    default: return NULL;
    }
}

int pn_kernel_falls_back(const pn_kernels *k, pn_kernel_op op, const pn_conv2d_shape *s)
{
    if ((int)op < 0 || op >= PN_KOP_COUNT || strcmp(k->impl[op], "scalar") == 0)
        return 0;
    switch (op) {
    case PN_KOP_conv2d_bwd_data: return !pn_simd_bwd_data_fits(s, k->lanes);
    case PN_KOP_conv2d_pool2_bwd_filter:
    case PN_KOP_conv2d_pool2_bwd_data: return !pn_pool2_bwd_fast(s);
    default: return 0;
    }
}

int32_t pn_window_out(int32_t in, int32_t k, int32_t stride, int same, int32_t *pad_before)
{
    int32_t out;
    if (same) {
        int64_t total;
        out = (in + stride - 1) / stride;
        total = (int64_t)(out - 1) * stride + k - in;
        if (total < 0)
            total = 0;
        *pad_before = (int32_t)(total / 2);
        return out;
    }
    *pad_before = 0;
    if (in < k)
        return 0;
    return (in - k) / stride + 1;
}

/* pn_kernels_get() (CPU dispatch) lives in lib/kernels/cpu.c. */
