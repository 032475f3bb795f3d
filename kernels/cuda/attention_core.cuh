// The flash-attention tile loop shared by the dense and the sparse kernels (FA2-style, sm_80+).
//
// One CTA owns a tile of up to BM query rows of one head and walks a list of key rows in tiles
// of BN. Warps split the query rows (MT m16 tiles each) and all read the same K/V tile from
// shared memory. Tensor cores via mma.sync m16n8k16 (bf16 in, f32 accumulate), fragments via
// ldmatrix, K/V tiles streamed by cp.async through a STAGES-deep ring. Softmax is online in the
// exp2 domain with 1/sqrt(D) * log2(e) folded into one FMA; the row sum is kept per thread and
// reduced across the quad only at the end.
//
// Shared-memory rows are D bf16 = D/8 chunks of 16 bytes; chunk c of row r lives at chunk
// c ^ (r & 7), so the 8 row addresses of one ldmatrix hit 8 different bank groups.
//
// Key rows: the dense kernel reads rows 0..S-1. The sparse kernel reads the concatenation of
// the selected key clusters: a list of (end position in the concatenation, physical row minus
// concatenated position) pairs, one per selected non-empty cluster. Each warp maps the
// positions of the rows it loads with a cursor into that list and a 5-step shuffle search over
// a window of 32 entries (KeyRowMap, shared with the Hopper kernels; a window holding the first
// position always holds the last: a warp loads <= 32 consecutive positions and every listed
// cluster has >= 1 row). The window for the
// next tile is prefetched into registers while the current one computes; only when clusters are
// so small that the positions skipped between two tiles leave it must it slide (a loop).
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

#include <type_traits>

namespace vs_attn {

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}

// 16-byte async copy global -> shared; src_bytes == 0 writes zeros.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
                 "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1,
                                            uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t &r0, uint32_t &r1,
                                                  uint32_t &r2, uint32_t &r3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}

// c[4] += a[4] (16x16 row) * b[2] (16x8 col), bf16 in, f32 accumulate.
__device__ __forceinline__ void mma_bf16(float *c, const uint32_t *a, uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

template <int D_, int NWARPS_, int MT_, int BN_, int STAGES_, int MIN_BLOCKS_ = 1>
struct Config {
    static constexpr bool HOPPER = false;
    static constexpr int D = D_, NWARPS = NWARPS_, MT = MT_, BN = BN_, STAGES = STAGES_;
    static constexpr int MIN_BLOCKS = MIN_BLOCKS_;  // __launch_bounds__ CTAs per SM (caps registers)
    static constexpr int BM = 16 * MT * NWARPS;  // query rows per CTA
    static constexpr int THREADS = 32 * NWARPS;
    static constexpr int CHUNKS = D / 8;          // 16-byte chunks per row
    static constexpr int ROWS_PER_WARP = BN / NWARPS;  // K/V rows each warp loads per tile
    static constexpr int LANES_PER_ROW = CHUNKS < 32 ? CHUNKS : 32;
    static constexpr int SMEM_BYTES = (BM + 2 * STAGES * BN) * D * 2;
    static_assert(D == 64 || D == 128, "head dim 64 or 128");
    static_assert(ROWS_PER_WARP >= 1 && ROWS_PER_WARP <= 32 && BN % NWARPS == 0, "K/V rows per warp");
    static_assert((ROWS_PER_WARP * CHUNKS) % 32 == 0, "whole warp passes over K/V rows");
    static_assert(BN % 16 == 0, "BN multiple of 16");
};

// Offset in elements of chunk `c` of row `r` in a swizzled [rows, D] bf16 tile.
template <int D>
__device__ __forceinline__ int swz(int r, int c) {
    return r * D + ((c ^ (r & 7)) << 3);
}

// Sparse key gather: a warp loading key positions p0 .. p0 + rw - 1 of the concatenated
// selected clusters maps them to physical rows. List entries: x = end position of the cluster in
// the concatenation, y = row - position. The warp keeps a uniform cursor and a prefetched window
// of 32 entries starting at the cluster that held its last row of the previous tile; the window
// slides forward until it also holds this tile's last row (a loop only when the clusters skipped
// between two tiles are that small), then a 5-step shuffle search finds each lane's cluster.
struct KeyRowMap {
    const int2 *list;
    int list_len, cursor;
    int2 win;

    __device__ __forceinline__ int2 entry(int i) const {
        return i < list_len ? list[i] : make_int2(0x7fffffff, 0);
    }
    __device__ __forceinline__ void init(const int2 *list_, int list_len_, int lane) {
        list = list_, list_len = list_len_, cursor = 0;
        win = entry(lane);
    }
    // Physical row of position p0 + min(lane, rw - 1); advances the window past this tile.
    __device__ __forceinline__ int row(int p0, int rw, int lane) {
        const int p = p0 + (lane < rw ? lane : rw - 1);
        while (p0 + rw - 1 >= __shfl_sync(0xffffffffu, win.x, 31)) {
            cursor += __popc(__ballot_sync(0xffffffffu, win.x <= p0));
            win = entry(cursor + lane);
        }
        int kk = 0;
#pragma unroll
        for (int step = 16; step >= 1; step >>= 1) {
            const int e = __shfl_sync(0xffffffffu, win.x, kk + step - 1);
            if (e <= p) kk += step;
        }
        const int r = p + __shfl_sync(0xffffffffu, win.y, kk);
        cursor += __shfl_sync(0xffffffffu, kk, rw - 1);
        win = entry(cursor + lane);
        return r;
    }
};

// One query tile: rows q_row0 .. q_row0 + q_len - 1 of head-base pointers q/o, against the
// key rows described by (n_keys, list). SPARSE == false: key position p is row p. Row i of q,
// k/v and o starts i * ld_q, i * ld_kv, i * ld_o elements after the head base (multiples of 8).
template <class C, bool SPARSE>
__device__ __forceinline__ void attention_tile(const __nv_bfloat16 *__restrict__ q,
                                               const __nv_bfloat16 *__restrict__ k,
                                               const __nv_bfloat16 *__restrict__ v,
                                               __nv_bfloat16 *__restrict__ o, int q_row0,
                                               int q_len, int n_keys,
                                               const int2 *__restrict__ list, int list_len,
                                               float scale_log2, int ld_q, int ld_kv, int ld_o) {
    constexpr int D = C::D, BN = C::BN, MT = C::MT, STAGES = C::STAGES, CH = C::CHUNKS;
    constexpr int RW = C::ROWS_PER_WARP;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __nv_bfloat16 *sq = reinterpret_cast<__nv_bfloat16 *>(smem_raw);  // [BM, D]
    __nv_bfloat16 *skv = sq + C::BM * D;  // [STAGES][2][BN, D]: K then V per stage
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    // ---- Q tile -> shared (rows past q_len are zeros)
    for (int idx = tid; idx < C::BM * CH; idx += C::THREADS) {
        int r = idx / CH, c = idx % CH;
        bool ok = r < q_len;
        const __nv_bfloat16 *src = q + (size_t)(ok ? q_row0 + r : q_row0) * ld_q + c * 8;
        cp_async16(smem_u32(sq + swz<D>(r, c)), src, ok ? 16 : 0);
    }
    cp_async_commit();

    const int n_tiles = (n_keys + BN - 1) / BN;

    KeyRowMap keys;  // sparse only
    if (SPARSE) keys.init(list, list_len, lane);

    // Issue cp.async for K/V tile `t` into stage `t % STAGES` (this warp's RW rows).
    auto load_tile = [&](int t) {
        const int p0 = t * BN + warp * RW;
        const int row = SPARSE ? keys.row(p0, RW, lane) : p0 + (lane < RW ? lane : RW - 1);
        __nv_bfloat16 *sk = skv + (size_t)(t % STAGES) * 2 * BN * D;
        __nv_bfloat16 *sv = sk + BN * D;
        constexpr int LPR = C::LANES_PER_ROW;  // lanes per row in one pass
        constexpr int RPP = 32 / LPR;           // rows per pass
#pragma unroll
        for (int pass = 0; pass < RW / RPP; pass++) {
            int rl = pass * RPP + lane / LPR;  // row within this warp's rows
            int c = lane % LPR;
            int prow = __shfl_sync(0xffffffffu, row, rl);
            bool ok = p0 + rl < n_keys;
            size_t goff = (size_t)(ok ? prow : 0) * ld_kv + c * 8;
            int r = warp * RW + rl;
#pragma unroll
            for (int cc = 0; cc < CH / LPR; cc++) {
                cp_async16(smem_u32(sk + swz<D>(r, c + cc * LPR)), k + goff + cc * LPR * 8, ok ? 16 : 0);
                cp_async16(smem_u32(sv + swz<D>(r, c + cc * LPR)), v + goff + cc * LPR * 8, ok ? 16 : 0);
            }
        }
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < n_tiles) load_tile(s);
        cp_async_commit();
    }

    float acc[MT][D / 8][4];
    float row_max[MT][2], row_sum[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int j = 0; j < D / 8; j++) acc[mt][j][0] = acc[mt][j][1] = acc[mt][j][2] = acc[mt][j][3] = 0.f;
        row_max[mt][0] = row_max[mt][1] = -INFINITY;
        row_sum[mt][0] = row_sum[mt][1] = 0.f;
    }

    // ldmatrix lane roles: matrix m = lane / 8, row r = lane % 8 within it.
    const int lm = lane >> 3, lr = lane & 7;
    const uint32_t sq_base = smem_u32(sq);
    const uint32_t skv_base = smem_u32(skv);

    // m16 tiles of this warp that hold query rows (warp-uniform; 0 = the warp only loads).
    const int active_mt = min(MT, max(0, (q_len - warp * MT * 16 + 15) / 16));

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        if (t + STAGES - 1 < n_tiles) load_tile(t + STAGES - 1);
        cp_async_commit();

        // Only the m16 tiles holding real query rows compute: a short query cluster's tile
        // leaves whole warps (or a warp's second m-tile) idle, freeing the tensor cores for
        // the other CTA on the SM instead of multiplying zero rows.
        auto compute = [&](auto nm) {
            constexpr int NM = decltype(nm)::value;
            const uint32_t sk_base = skv_base + (uint32_t)((t % STAGES) * 2 * BN * D * 2);
            const uint32_t sv_base = sk_base + BN * D * 2;

            // ---- S = Q K^T for this warp's MT x 16 rows and BN keys
            float s[NM][BN / 8][4];
    #pragma unroll
            for (int mt = 0; mt < NM; mt++)
    #pragma unroll
                for (int j = 0; j < BN / 8; j++) s[mt][j][0] = s[mt][j][1] = s[mt][j][2] = s[mt][j][3] = 0.f;
    #pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t a[NM][4];
    #pragma unroll
                for (int mt = 0; mt < NM; mt++) {
                    int r = (warp * MT + mt) * 16 + (lm & 1) * 8 + lr;
                    int c = kk * 2 + (lm >> 1);
                    ldmatrix_x4(sq_base + (uint32_t)(r * D + ((c ^ lr) << 3)) * 2, a[mt][0], a[mt][1], a[mt][2], a[mt][3]);
                }
    #pragma unroll
                for (int nn = 0; nn < BN / 16; nn++) {
                    uint32_t b0, b1, b2, b3;
                    int r = nn * 16 + (lm >> 1) * 8 + lr;
                    int c = kk * 2 + (lm & 1);
                    ldmatrix_x4(sk_base + (uint32_t)(r * D + ((c ^ lr) << 3)) * 2, b0, b1, b2, b3);
    #pragma unroll
                    for (int mt = 0; mt < NM; mt++) {
                        mma_bf16(s[mt][2 * nn], a[mt], b0, b1);
                        mma_bf16(s[mt][2 * nn + 1], a[mt], b2, b3);
                    }
                }
            }

            // ---- mask key positions past the end (last tile only)
            if ((t + 1) * BN > n_keys) {
    #pragma unroll
                for (int j = 0; j < BN / 8; j++) {
                    int col = t * BN + j * 8 + (lane & 3) * 2;
    #pragma unroll
                    for (int mt = 0; mt < NM; mt++) {
                        if (col >= n_keys) s[mt][j][0] = s[mt][j][2] = -INFINITY;
                        if (col + 1 >= n_keys) s[mt][j][1] = s[mt][j][3] = -INFINITY;
                    }
                }
            }

            // ---- online softmax (exp2 domain), P packed to bf16 A fragments
            uint32_t pa[NM][BN / 16][4];
    #pragma unroll
            for (int mt = 0; mt < NM; mt++) {
    #pragma unroll
                for (int h = 0; h < 2; h++) {
                    float mx = -INFINITY;
    #pragma unroll
                    for (int j = 0; j < BN / 8; j++) mx = fmaxf(mx, fmaxf(s[mt][j][2 * h], s[mt][j][2 * h + 1]));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                    float m_new = fmaxf(row_max[mt][h], mx * scale_log2);
                    float alpha = fast_exp2(row_max[mt][h] - m_new);
                    row_max[mt][h] = m_new;
                    float sum = 0.f;
    #pragma unroll
                    for (int j = 0; j < BN / 8; j++) {
                        float p0 = fast_exp2(fmaf(s[mt][j][2 * h], scale_log2, -m_new));
                        float p1 = fast_exp2(fmaf(s[mt][j][2 * h + 1], scale_log2, -m_new));
                        s[mt][j][2 * h] = p0;
                        s[mt][j][2 * h + 1] = p1;
                        sum += p0 + p1;
                    }
                    row_sum[mt][h] = row_sum[mt][h] * alpha + sum;
    #pragma unroll
                    for (int j = 0; j < D / 8; j++) {
                        acc[mt][j][2 * h] *= alpha;
                        acc[mt][j][2 * h + 1] *= alpha;
                    }
                }
    #pragma unroll
                for (int kk = 0; kk < BN / 16; kk++) {
                    pa[mt][kk][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
                    pa[mt][kk][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
                    pa[mt][kk][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
                    pa[mt][kk][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
                }
            }

            // ---- O += P V
    #pragma unroll
            for (int kk = 0; kk < BN / 16; kk++) {
    #pragma unroll
                for (int dn = 0; dn < D / 16; dn++) {
                    uint32_t b0, b1, b2, b3;
                    int r = kk * 16 + (lm & 1) * 8 + lr;
                    int c = dn * 2 + (lm >> 1);
                    ldmatrix_x4_trans(sv_base + (uint32_t)(r * D + ((c ^ lr) << 3)) * 2, b0, b1, b2, b3);
    #pragma unroll
                    for (int mt = 0; mt < NM; mt++) {
                        mma_bf16(acc[mt][2 * dn], pa[mt][kk], b0, b1);
                        mma_bf16(acc[mt][2 * dn + 1], pa[mt][kk], b2, b3);
                    }
                }
            }
        };
        if (active_mt >= MT) compute(std::integral_constant<int, MT>{});
        else if (MT > 1 && active_mt == 1) compute(std::integral_constant<int, 1>{});
    }
    cp_async_wait<0>();

    // ---- normalise and store (rows with no key at all: row_sum == 0 -> zeros)
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float l = row_sum[mt][h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            float inv = l > 0.f ? 1.f / l : 0.f;
            int r = (warp * MT + mt) * 16 + (lane >> 2) + h * 8;
            if (r < q_len) {
                __nv_bfloat16 *dst = o + (size_t)(q_row0 + r) * ld_o + (lane & 3) * 2;
#pragma unroll
                for (int j = 0; j < D / 8; j++)
                    *reinterpret_cast<__nv_bfloat162 *>(dst + j * 8) =
                        __floats2bfloat162_rn(acc[mt][j][2 * h] * inv, acc[mt][j][2 * h + 1] * inv);
            }
        }
    }
}

}  // namespace vs_attn
