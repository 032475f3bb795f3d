// Does a 128B-swizzled TMA box written at a shared-memory row offset that is not a multiple of 8
// land in the layout "16-byte chunk c of row r at c ^ (r & 7)" of a 1024-aligned tile?
#include <cuda.h>
#include <cuda_runtime.h>
#include <cudaTypedefs.h>
#include <stdio.h>
#include <stdint.h>

__global__ void probe(const __grid_constant__ CUtensorMap map, int box_rows, int src_row, int dst_row,
                      uint16_t *out) {
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    uint32_t base = (uint32_t)__cvta_generic_to_shared(smem_raw);
    base = (base + 1023) & ~1023u;
    unsigned char *tile = smem_raw + (base - (uint32_t)__cvta_generic_to_shared(smem_raw));
    __shared__ __align__(8) uint64_t bar;
    uint32_t b = (uint32_t)__cvta_generic_to_shared(&bar);
    for (int i = threadIdx.x; i < 64 * 128 / 2; i += blockDim.x) ((uint16_t *)tile)[i] = 0xFFFF;
    __syncthreads();
    if (threadIdx.x == 0) {
        asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(b));
        asm volatile("fence.proxy.async.shared::cta;\n");
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(b), "r"(box_rows * 128));
        uint32_t dst = base + dst_row * 128;
        asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                     ::"r"(dst), "l"(&map), "r"(0), "r"(src_row), "r"(b) : "memory");
        asm volatile("{\n.reg .pred p;\nW: mbarrier.try_wait.parity.shared::cta.b64 p, [%0], 0;\n@!p bra W;\n}\n" ::"r"(b));
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 64 * 64; i += blockDim.x) out[i] = ((uint16_t *)tile)[i];
}

int main() {
    const int R = 64, C = 64;  // global [R rows, 64 cols] bf16 -> one 128-byte column block
    uint16_t h[R * C], *d, *dout, got[64 * 64];
    for (int r = 0; r < R; r++) for (int c = 0; c < C; c++) h[r * C + c] = (uint16_t)(r * 256 + c);
    cudaMalloc(&d, sizeof h); cudaMalloc(&dout, sizeof got);
    cudaMemcpy(d, h, sizeof h, cudaMemcpyHostToDevice);
    PFN_cuTensorMapEncodeTiled_v12000 encode;
    cudaDriverEntryPointQueryResult q;
    if (cudaGetDriverEntryPoint("cuTensorMapEncodeTiled", (void **)&encode, cudaEnableDefault, &q) != cudaSuccess) return 1;
    int fails = 0;
    const int heights[] = {8, 4, 2, 1, 16};
    for (int hi = 0; hi < 5; hi++) {
        int box = heights[hi];
        CUtensorMap map;
        cuuint64_t dims[2] = {(cuuint64_t)C, (cuuint64_t)R};
        cuuint64_t strides[1] = {C * 2};
        cuuint32_t boxd[2] = {64, (cuuint32_t)box}, es[2] = {1, 1};
        CUresult e = encode(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, d, dims, strides, boxd, es,
                            CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
        if (e != CUDA_SUCCESS) { printf("encode box %d failed %d\n", box, (int)e); fails++; continue; }
        for (int dst_row = 0; dst_row + box <= 64; dst_row += 3) {
            const int src_row = 5;
            cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 128 + 1024);
            probe<<<1, 128, 64 * 128 + 1024>>>(map, box, src_row, dst_row, dout);
            cudaError_t ce = cudaDeviceSynchronize();
            if (ce != cudaSuccess) { printf("box %d dst_row %d: %s\n", box, dst_row, cudaGetErrorString(ce)); return 1; }
            cudaMemcpy(got, dout, sizeof got, cudaMemcpyDeviceToHost);
            int bad = 0;
            for (int i = 0; i < box; i++) {
                int r = dst_row + i;
                for (int c = 0; c < 64; c++) {
                    int chunk = c / 8, pos = ((chunk ^ (r & 7)) * 8) + c % 8;
                    if (got[r * 64 + pos] != (uint16_t)((src_row + i) * 256 + c)) bad++;
                }
            }
            // rows outside the box must be untouched (0xFFFF)
            for (int r = 0; r < 64; r++) if (r < dst_row || r >= dst_row + box)
                for (int c = 0; c < 64; c++) if (got[r * 64 + c] != 0xFFFF) bad++;
            if (bad) fails++;
            printf("box %2d rows at smem row %2d: %s (%d wrong)\n", box, dst_row, bad ? "MISMATCH" : "ok", bad);
        }
    }
    printf("TMA probe: %s\n", fails ? "the swizzle does NOT follow the row address" : "swizzle follows the smem address at any 128-byte row offset");
    return fails != 0;
}
