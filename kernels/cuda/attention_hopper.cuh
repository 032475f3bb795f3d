// The Hopper (sm_90a) attention tile loop: the same contract as attention_tile in
// attention_core.cuh (one CTA, up to BM query rows of one head, a dense or gathered key list),
// with the two matrix products on wgmma instead of mma.sync.
//
// A CTA is NWG warpgroups of 64 query rows each; all warps load the shared K/V tiles with
// cp.async (the sparse key gather needs per-row addresses, which the bulk tensor copy cannot
// take on sm_90), into the 128-byte-swizzled layout the tensor cores read (wgmma.cuh). Per key
// tile each warpgroup computes S = Q K^T (64 x BN, both operands in shared memory), the online
// softmax in registers exactly as the mma.sync kernel does (the accumulator layouts coincide),
// packs P to bf16 in registers and accumulates O += P V with P as a register operand.
//
// OVERLAP (FA3's intra-warpgroup pipelining): the warpgroup issues S for tile t + 1 and P V for
// tile t back to back, then runs the softmax of tile t + 1 while P V runs on the tensor cores;
// the O rescale waits for P V. This needs the K/V of tiles t and t + 1 resident at once, so the
// ring holds three tiles. Without OVERLAP a tile's softmax leaves the tensor cores idle unless
// the other warpgroup happens to be multiplying.
#pragma once
#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace vs_attn {

template <int D_, int NWG_, int BN_, int STAGES_, bool OVERLAP_, int MIN_BLOCKS_ = 1>
struct HopperConfig {
    static constexpr bool HOPPER = true, OVERLAP = OVERLAP_;
    static constexpr int D = D_, NWG = NWG_, BN = BN_, STAGES = STAGES_;
    static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
    static constexpr int BM = 64 * NWG, NWARPS = 4 * NWG, THREADS = 128 * NWG;
    static constexpr int CHUNKS = D / 8;
    static constexpr int ROWS_PER_WARP = BN / NWARPS;  // K/V rows each warp loads per tile
    static constexpr int LANES_PER_ROW = CHUNKS < 32 ? CHUNKS : 32;
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    static constexpr int SMEM_BYTES = 1024 + Q_BYTES + STAGES * 2 * KV_BYTES;  // + alignment slack
    static_assert(D == 64 || D == 128, "head dim 64 or 128");
    static_assert(BN == 64 || BN == 128, "key tile is a wgmma N: 64 or 128");
    static_assert(ROWS_PER_WARP >= 1 && ROWS_PER_WARP <= 32 && BN % NWARPS == 0, "K/V rows per warp");
    static_assert((ROWS_PER_WARP * CHUNKS) % 32 == 0, "whole warp passes over K/V rows");
    static_assert(!OVERLAP || STAGES >= 3, "overlap keeps two tiles resident while a third loads");
    static_assert(SMEM_BYTES <= 227 * 1024, "shared memory per CTA");
};

// Byte offset of 16-byte chunk c of row r in a 128-byte-swizzled tile of R rows (wgmma.cuh).
template <int R>
__device__ __forceinline__ uint32_t hswz(int r, int c) {
    return (uint32_t)((c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

template <class C, bool SPARSE>
__device__ __forceinline__ void attention_tile_wgmma(const __nv_bfloat16 *__restrict__ q,
                                                     const __nv_bfloat16 *__restrict__ k,
                                                     const __nv_bfloat16 *__restrict__ v,
                                                     __nv_bfloat16 *__restrict__ o, int q_row0,
                                                     int q_len, int n_keys,
                                                     const int2 *__restrict__ list, int list_len,
                                                     float scale_log2) {
#ifdef VS_WGMMA
    constexpr int D = C::D, BN = C::BN, BM = C::BM, STAGES = C::STAGES, CH = C::CHUNKS;
    constexpr int RW = C::ROWS_PER_WARP;
    constexpr int SREGS = Wgmma<BN>::REGS, OREGS = Wgmma<D>::REGS;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t sq = (smem_u32(smem_raw) + 1023u) & ~1023u;  // swizzle atoms: 1024-aligned
    const uint32_t skv = sq + C::Q_BYTES;                       // [STAGES][K, V][BN x D]
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wg = warp >> 2, wq = warp & 3;  // warpgroup, warp within it

    for (int idx = tid; idx < BM * CH; idx += C::THREADS) {
        const int r = idx / CH, c = idx % CH;
        const bool ok = r < q_len;
        const __nv_bfloat16 *src = q + (size_t)(ok ? q_row0 + r : q_row0) * D + c * 8;
        cp_async16(sq + hswz<BM>(r, c), src, ok ? 16 : 0);
    }
    cp_async_commit();

    const int n_tiles = (n_keys + BN - 1) / BN;
    int cursor = 0;  // sparse key-row mapping, as in attention_tile
    int2 win = make_int2(0x7fffffff, 0);
    if (SPARSE) win = lane < list_len ? list[lane] : make_int2(0x7fffffff, 0);

    auto load_tile = [&](int t) {
        const int p0 = t * BN + warp * RW;
        const int p = p0 + (lane < RW ? lane : RW - 1);
        int row = p;
        if (SPARSE) {
            const int p_last = p0 + RW - 1;
            while (p_last >= __shfl_sync(0xffffffffu, win.x, 31)) {
                cursor += __popc(__ballot_sync(0xffffffffu, win.x <= p0));
                win = cursor + lane < list_len ? list[cursor + lane] : make_int2(0x7fffffff, 0);
            }
            int kk = 0;
#pragma unroll
            for (int step = 16; step >= 1; step >>= 1) {
                const int e = __shfl_sync(0xffffffffu, win.x, kk + step - 1);
                if (e <= p) kk += step;
            }
            row = p + __shfl_sync(0xffffffffu, win.y, kk);
            cursor += __shfl_sync(0xffffffffu, kk, RW - 1);
            win = cursor + lane < list_len ? list[cursor + lane] : make_int2(0x7fffffff, 0);
        }
        const uint32_t sk = skv + (uint32_t)((t % STAGES) * 2 * C::KV_BYTES);
        const uint32_t sv = sk + C::KV_BYTES;
        constexpr int LPR = C::LANES_PER_ROW, RPP = 32 / LPR;
#pragma unroll
        for (int pass = 0; pass < RW / RPP; pass++) {
            const int rl = pass * RPP + lane / LPR, c = lane % LPR;
            const int prow = __shfl_sync(0xffffffffu, row, rl);
            const bool ok = p0 + rl < n_keys;
            const size_t goff = (size_t)(ok ? prow : 0) * D + c * 8;
            const int r = warp * RW + rl;
#pragma unroll
            for (int cc = 0; cc < CH / LPR; cc++) {
                cp_async16(sk + hswz<BN>(r, c + cc * LPR), k + goff + cc * LPR * 8, ok ? 16 : 0);
                cp_async16(sv + hswz<BN>(r, c + cc * LPR), v + goff + cc * LPR * 8, ok ? 16 : 0);
            }
        }
    };

    float acc[OREGS], s[SREGS];
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
    uint32_t p[BN / 16][4];
#pragma unroll
    for (int i = 0; i < OREGS; i++) acc[i] = 0.f;
#pragma unroll
    for (int i = 0; i < SREGS; i++) s[i] = 0.f;
    const bool active = q_len > wg * 64;  // warpgroup-uniform: an empty half of the tile only loads

    // S = Q K^T for the key tile in stage `stage` (issue only; the caller commits and waits).
    auto issue_qk = [&](int stage) {
        const uint32_t sk = skv + (uint32_t)(stage * 2 * C::KV_BYTES);
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const uint64_t da = wgmma_desc(sq + (kk >> 2) * (BM * 128) + wg * 64 * 128 + (kk & 3) * 32, 16, 1024);
            const uint64_t db = wgmma_desc(sk + (kk >> 2) * (BN * 128) + (kk & 3) * 32, 16, 1024);
            Wgmma<BN>::ss(s, da, db, kk > 0);
        }
    };
    // O += P V for the value tile in stage `stage`.
    auto issue_pv = [&](int stage) {
        const uint32_t sv = skv + (uint32_t)(stage * 2 * C::KV_BYTES) + C::KV_BYTES;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++)
            Wgmma<D>::rs(acc, p[kk], wgmma_desc(sv + kk * 16 * 128, BN * 128, 1024), 1);
    };
    // Masks key positions past n_keys, updates the running max, turns s into exp2 weights and
    // adds them to the running sums; returns the factors the old O rows must be scaled by.
    auto softmax = [&](int t, float (&alpha)[2]) {
        if ((t + 1) * BN > n_keys) {
#pragma unroll
            for (int j = 0; j < BN / 8; j++) {
                const int col = t * BN + j * 8 + (lane & 3) * 2;
                if (col >= n_keys) s[4 * j] = s[4 * j + 2] = -INFINITY;
                if (col + 1 >= n_keys) s[4 * j + 1] = s[4 * j + 3] = -INFINITY;
            }
        }
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float mx = -INFINITY;
#pragma unroll
            for (int j = 0; j < BN / 8; j++) mx = fmaxf(mx, fmaxf(s[4 * j + 2 * h], s[4 * j + 2 * h + 1]));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
            mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
            const float m_new = fmaxf(row_max[h], mx * scale_log2);
            alpha[h] = fast_exp2(row_max[h] - m_new);
            row_max[h] = m_new;
            float sum = 0.f;
#pragma unroll
            for (int j = 0; j < BN / 8; j++) {
                const float p0 = fast_exp2(fmaf(s[4 * j + 2 * h], scale_log2, -m_new));
                const float p1 = fast_exp2(fmaf(s[4 * j + 2 * h + 1], scale_log2, -m_new));
                s[4 * j + 2 * h] = p0;
                s[4 * j + 2 * h + 1] = p1;
                sum += p0 + p1;
            }
            row_sum[h] = row_sum[h] * alpha[h] + sum;
        }
    };
    auto rescale_and_pack = [&](const float (&alpha)[2]) {
#pragma unroll
        for (int j = 0; j < D / 8; j++) {
            acc[4 * j] *= alpha[0], acc[4 * j + 1] *= alpha[0];
            acc[4 * j + 2] *= alpha[1], acc[4 * j + 3] *= alpha[1];
        }
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            p[kk][0] = pack_bf16(s[8 * kk], s[8 * kk + 1]);
            p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
            p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
            p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
        }
    };
    // Waits for this thread's cp.async groups but the newest `pending`, publishes them to the
    // tensor cores and to the other threads.
    auto tiles_landed = [&](auto pending) {
        cp_async_wait<decltype(pending)::value>();
        fence_async_shared();
        __syncthreads();
    };

    if (!C::OVERLAP) {
#pragma unroll 1
        for (int s0 = 0; s0 < STAGES - 1; s0++) {
            if (s0 < n_tiles) load_tile(s0);
            cp_async_commit();
        }
#pragma unroll 1
        for (int t = 0; t < n_tiles; t++) {
            tiles_landed(std::integral_constant<int, STAGES - 2>{});
            if (t + STAGES - 1 < n_tiles) load_tile(t + STAGES - 1);
            cp_async_commit();
            if (!active) continue;
            wgmma_fence();
            issue_qk(t % STAGES);
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_hold(s);
            float alpha[2];
            softmax(t, alpha);
            rescale_and_pack(alpha);
            wgmma_fence();
            issue_pv(t % STAGES);
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_hold(acc);
        }
    } else if (n_tiles > 0) {
        // Tiles t and t + 1 resident while t + 2 loads: stage t % STAGES, ring of >= 3.
        load_tile(0);
        cp_async_commit();
        if (n_tiles > 1) load_tile(1);
        cp_async_commit();
        tiles_landed(std::integral_constant<int, 1>{});  // Q and tile 0
        if (active) {
            wgmma_fence();
            issue_qk(0);
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_hold(s);
            float alpha[2];
            softmax(0, alpha);
            rescale_and_pack(alpha);
        }
        // Every iteration but the last has a next tile: no branch between the wgmmas (a
        // divergent path around them makes ptxas serialise them).
#pragma unroll 1
        for (int t = 0; t + 1 < n_tiles; t++) {
            tiles_landed(std::integral_constant<int, 0>{});  // tile t + 1; t + 2 is not issued yet
            if (t + 2 < n_tiles) load_tile(t + 2);  // overwrites tile t - 1: its P V has finished
            cp_async_commit();
            if (!active) continue;
            wgmma_fence();
            issue_qk((t + 1) % STAGES);
            wgmma_commit();
            issue_pv(t % STAGES);
            wgmma_commit();
            wgmma_wait<1>();  // S of tile t + 1 is in; P V of tile t may still run
            wgmma_hold(s);
            float alpha[2];
            softmax(t + 1, alpha);
            wgmma_wait<0>();  // P V done: acc settled, p reusable
            wgmma_hold(acc);
            rescale_and_pack(alpha);
        }
        if (active) {  // the last tile landed at the top of the last iteration (or the prologue)
            wgmma_fence();
            issue_pv((n_tiles - 1) % STAGES);
            wgmma_commit();
            wgmma_wait<0>();
            wgmma_hold(acc);
        }
    }
    cp_async_wait<0>();

    if (!active) return;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        float l = row_sum[h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const float inv = l > 0.f ? 1.f / l : 0.f;
        const int r = wg * 64 + wq * 16 + (lane >> 2) + h * 8;
        if (r < q_len) {
            __nv_bfloat16 *dst = o + (size_t)(q_row0 + r) * D + (lane & 3) * 2;
#pragma unroll
            for (int j = 0; j < D / 8; j++)
                *reinterpret_cast<__nv_bfloat162 *>(dst + j * 8) =
                    __floats2bfloat162_rn(acc[4 * j + 2 * h] * inv, acc[4 * j + 2 * h + 1] * inv);
        }
    }
#else
    __trap();  // built without sm_90a: the launcher never selects this kernel (vs_attn_hopper_ready)
#endif
}

}  // namespace vs_attn
