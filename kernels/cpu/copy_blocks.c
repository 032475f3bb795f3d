#include "kernels/cpu/copy_blocks.h"

#include <string.h>

void vs_copy_blocks_cpu(const vs_copy_block *blocks, int n, void *const dst[VS_COPY_BASES],
                        const void *const src[VS_COPY_BASES]) {
    for (int b = 0; b < n; b++) {
        const vs_copy_block *k = &blocks[b];
        if (k->width <= 0) continue;
        for (int64_t o = 0; o < k->outer; o++)
            for (int64_t i = 0; i < k->inner; i++)
                memcpy((char *)dst[k->dst] + k->dst_off + o * k->dst_outer + i * k->dst_inner,
                       (const char *)src[k->src] + k->src_off + o * k->src_outer + i * k->src_inner,
                       (size_t)k->width);
    }
}

int vs_copy_blocks_unit(const vs_copy_block *blocks, int n) {
    uint64_t bits = 16;
    for (int b = 0; b < n; b++) {
        const vs_copy_block *k = &blocks[b];
        const int64_t v[] = {k->src_off, k->dst_off, k->src_outer, k->src_inner, k->dst_outer,
                             k->dst_inner, k->width};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) bits |= (uint64_t)v[j];
    }
    return (int)(bits & (~bits + 1));  // lowest set bit, at most 16
}
