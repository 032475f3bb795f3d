// The Hopper (sm_90a) attention tile loops: the same contract as attention_tile in
// attention_core.cuh (one CTA, up to BM query rows of one head, a dense or gathered key list,
// row strides per tensor), with the two matrix products on wgmma instead of mma.sync.
//
// Query rows are split over consumer warpgroups of 64 rows. K/V tiles of BN rows are loaded
// with cp.async (the sparse key gather needs per-row addresses, which the bulk tensor copy
// cannot take on sm_90) into the 128-byte-swizzled layout the tensor cores read (wgmma.cuh).
// Per key tile each consumer computes S = Q K^T (64 x BN, both operands in shared memory), the
// online softmax in registers exactly as the mma.sync kernel does (the accumulator layouts
// coincide), packs P to bf16 in registers and accumulates O += P V with P as a register operand.
//
// Schedules:
//   PLAIN: every warp is a consumer and also loads; one CTA barrier per key tile. Both
//     warpgroups then multiply and run their softmax at the same time, so the tensor cores
//     idle during the softmax (~40% of a tile's time at D = 128).
//   PINGPONG (FA3-style warp specialisation): a producer warpgroup loads, handing stages to two
//     consumer warpgroups through mbarriers (full / empty per stage), so no CTA barrier couples
//     the consumers. A baton (two named barriers) makes them issue their products in turn, which
//     keeps them half a tile apart: one warpgroup's softmax runs while the other's products run.
//     setmaxnreg moves registers from the producer (few live values) to the consumers.
//   PINGPONG_OVERLAP: the same, and within a warpgroup S = Q K^T of tile t and O += P V of tile
//     t - 1 are issued together, so the softmax of tile t also runs under its own P V (FA3's
//     intra-warpgroup overlap). A stage is released one tile later, hence 3 stages.
// The pingpong producer never waits for its copies: each stage's `full` barrier completes when
// they land (cp.async.mbarrier.arrive), so every free stage has a tile in flight.
#pragma once
#include "kernels/cuda/attention_core.cuh"
#include "kernels/cuda/wgmma.cuh"

namespace vs_attn {

enum class Schedule { PLAIN, PINGPONG, PINGPONG_OVERLAP };

template <int D_, int NWG_, int BN_, int STAGES_, Schedule SCHEDULE_, int MIN_BLOCKS_ = 1>
struct HopperConfig {
    static constexpr bool HOPPER = true;
    static constexpr Schedule SCHEDULE = SCHEDULE_;
    static constexpr int D = D_, NWG = NWG_, BN = BN_, STAGES = STAGES_;
    static constexpr int MIN_BLOCKS = MIN_BLOCKS_;
    static constexpr bool PINGPONG = SCHEDULE_ != Schedule::PLAIN;
    static constexpr bool OVERLAP = SCHEDULE_ == Schedule::PINGPONG_OVERLAP;
    static constexpr int BM = 64 * NWG;                      // NWG consumer warpgroups
    static constexpr int THREADS = 128 * (NWG + PINGPONG);   // + the producer warpgroup
    static constexpr int LOAD_WARPS = PINGPONG ? 4 : 4 * NWG;
    static constexpr int CHUNKS = D / 8;
    static constexpr int ROWS_PER_WARP = BN / LOAD_WARPS;  // K/V rows each loading warp copies
    // Lanes sharing a K/V row, each copying CHUNKS / LANES_PER_ROW 16-byte chunks of it. The
    // copies are held by the producer's instruction stream: at D = 128, 8 lanes per 256-byte row
    // (4 rows and 4 copies per lane per pass, half the row lookups of 16 lanes) measured 5-7%
    // faster dense and 1-6% faster sparse than 16 (docs/attention-kernels.md, session 7).
    static constexpr int LANES_PER_ROW = CHUNKS < 8 ? CHUNKS : 8;
    static constexpr int Q_BYTES = BM * D * 2, KV_BYTES = BN * D * 2;
    // + 1024 alignment slack for the swizzle atoms, + the mbarriers (full, empty per stage;
    // the persistent kernel's q_empty, item_full and item_empty per slot) and its 2 item slots
    static constexpr int SMEM_BYTES = 1024 + Q_BYTES + STAGES * 2 * KV_BYTES + 16 * STAGES + 48;
    static_assert(D == 64 || D == 128, "head dim 64 or 128");
    static_assert(BN == 64 || BN == 128, "key tile is a wgmma N: 64 or 128");
    static_assert(ROWS_PER_WARP >= 1 && ROWS_PER_WARP <= 32 && BN % LOAD_WARPS == 0, "K/V rows per warp");
    static_assert((ROWS_PER_WARP * CHUNKS) % 32 == 0, "whole warp passes over K/V rows");
    static_assert(!PINGPONG || NWG == 2, "the baton passes between two consumer warpgroups");
    static_assert(!OVERLAP || STAGES >= 3, "overlap holds two stages per consumer");
    static_assert(SMEM_BYTES <= 227 * 1024, "shared memory per CTA");
};

// Byte offset of 16-byte chunk c of row r in a 128-byte-swizzled tile of R rows (wgmma.cuh).
template <int R>
__device__ __forceinline__ uint32_t hswz(int r, int c) {
    return (uint32_t)((c >> 3) * (R * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4));
}

#ifdef VS_WGMMA

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives on `bar` once all of this thread's earlier cp.async copies have landed (noinc: the
// arrival counts against the count the barrier was initialised with).
__device__ __forceinline__ void mbar_arrive_when_copied(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity) {
    asm volatile(
        "{\n.reg .pred done;\nWAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT;\n}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}
__device__ __forceinline__ void st_shared_f32(uint32_t addr, float x) {
    asm volatile("st.shared.f32 [%0], %1;\n" ::"r"(addr), "f"(x) : "memory");
}
__device__ __forceinline__ float ld_shared_f32(uint32_t addr) {
    float x;
    asm volatile("ld.shared.f32 %0, [%1];\n" : "=f"(x) : "r"(addr) : "memory");
    return x;
}
// Registers per thread of a warpgroup (setmaxnreg: a multiple of 8 in [24, 256]).
// setmaxnreg.inc waits until the CTA's pool has the registers, and the pool is what the CTA got
// at launch (for 384 threads, 168 per thread): a producer + two consumers asking for more than
// 3 x 168 in all wait forever.
template <int PRODUCER, int CONSUMER>
constexpr bool fits_launch_registers() {
    return PRODUCER + 2 * CONSUMER <= 3 * 168;
}
template <int REGS>
__device__ __forceinline__ void lower_max_registers() {
    static_assert(REGS % 8 == 0 && REGS >= 24 && REGS <= 256, "setmaxnreg range");
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS>
__device__ __forceinline__ void raise_max_registers() {
    static_assert(REGS % 8 == 0 && REGS >= 24 && REGS <= 256, "setmaxnreg range");
    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
// Named barriers among the 256 consumer threads (id 0 is __syncthreads).
__device__ __forceinline__ void named_sync(int id) {
    asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory");
}
__device__ __forceinline__ void named_arrive(int id) {
    asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory");
}

// Lane qd of each group of 4 lanes holds x[c] = element (qd, c) of a 4 x 4 matrix of words;
// returns column qd, elements (0..3, qd). Two exchanges: with lane qd ^ 1 the words of the other
// column parity, then with lane qd ^ 2 the pairs of the other row half.
__device__ __forceinline__ uint4 quad_transpose(const uint32_t (&x)[4], int qd) {
    const bool odd = qd & 1, high = qd & 2;
    const uint32_t r0 = __shfl_xor_sync(0xffffffffu, odd ? x[0] : x[1], 1);
    const uint32_t r1 = __shfl_xor_sync(0xffffffffu, odd ? x[2] : x[3], 1);
    // rows (qd & 2) and (qd & 2) + 1 of columns (qd & 1) and (qd & 1) + 2
    const uint32_t a0 = odd ? r0 : x[0], a1 = odd ? x[1] : r0;
    const uint32_t a2 = odd ? r1 : x[2], a3 = odd ? x[3] : r1;
    const uint32_t u0 = __shfl_xor_sync(0xffffffffu, high ? a0 : a2, 2);
    const uint32_t u1 = __shfl_xor_sync(0xffffffffu, high ? a1 : a3, 2);
    return high ? make_uint4(u0, u1, a2, a3) : make_uint4(a0, a1, u0, u1);
}

// The state and steps of one CTA's tile, shared by the schedules.
template <class C, bool SPARSE>
struct HopperTile {
    static constexpr int D = C::D, BN = C::BN, BM = C::BM, CH = C::CHUNKS, RW = C::ROWS_PER_WARP;
    static constexpr int SREGS = Wgmma<BN>::REGS, OREGS = Wgmma<D>::REGS;

    uint32_t sq, skv;  // shared: Q [BM x D], then [STAGES][K, V][BN x D]
    int n_keys;
    int ld_q, ld_kv, ld_o;  // row strides in elements
    KeyRowMap keys;  // loader: the sparse gather's key-row mapping
    // consumer: this warpgroup's 64 rows
    float acc[OREGS];
    float row_max[2], row_sum[2];

    __device__ __forceinline__ uint32_t k_stage(int stage) const {
        return skv + (uint32_t)(stage * 2 * C::KV_BYTES);
    }

    // cp.async of this thread's part of the Q tile (rows past q_len are zeros); `tid` and
    // `threads` number the threads that share the copy. (A CTA per tile copies Q once.)
    __device__ __forceinline__ void load_q(const __nv_bfloat16 *q, int q_row0, int q_len, int tid,
                                           int threads) {
        for (int idx = tid; idx < BM * CH; idx += threads) {
            const int r = idx / CH, c = idx % CH;
            const bool ok = r < q_len;
            const __nv_bfloat16 *src = q + (size_t)(ok ? q_row0 + r : q_row0) * ld_q + c * 8;
            cp_async16(sq + hswz<BM>(r, c), src, ok ? 16 : 0);
        }
    }
    // The same copy by loading warp `warp` in the row passes of load_tile below, for the
    // persistent kernel, whose producer copies a Q tile per item: its instructions per item
    // are what an item start waits on. Measured there 1-4% faster sparse; in the per-tile
    // kernels it measured 4% slower dense (docs/attention-kernels.md, session 7).
    __device__ __forceinline__ void load_q_rows(const __nv_bfloat16 *q, int q_row0, int q_len,
                                                int warp, int lane) {
        constexpr int LPR = C::LANES_PER_ROW, RPP = 32 / LPR, rows = BM / C::LOAD_WARPS;
        static_assert(BM % C::LOAD_WARPS == 0 && rows % RPP == 0, "whole warp passes over Q rows");
#pragma unroll 4
        for (int pass = 0; pass < rows / RPP; pass++) {
            const int r = warp * rows + pass * RPP + lane / LPR, c = lane % LPR;
            const bool ok = r < q_len;
            const __nv_bfloat16 *src = q + (size_t)(q_row0 + (ok ? r : 0)) * ld_q + c * 8;
#pragma unroll
            for (int cc = 0; cc < CH / LPR; cc++)
                cp_async16(sq + hswz<BM>(r, c + cc * LPR), src + cc * LPR * 8, ok ? 16 : 0);
        }
    }

    __device__ __forceinline__ void init_loader(const int2 *list, int list_len, int lane) {
        if (SPARSE) keys.init(list, list_len, lane);
    }

    // cp.async of loading warp `warp`'s RW rows of key tile t into `stage` (positions past
    // n_keys are zeros).
    __device__ __forceinline__ void load_tile(const __nv_bfloat16 *k, const __nv_bfloat16 *v, int t,
                                              int stage, int warp, int lane) {
        const int p0 = t * BN + warp * RW;
        const int row = SPARSE ? keys.row(p0, RW, lane) : 0;  // dense rows are p0 + rl below
        const uint32_t sk = k_stage(stage), sv = sk + C::KV_BYTES;
        constexpr int LPR = C::LANES_PER_ROW, RPP = 32 / LPR;
#pragma unroll
        for (int pass = 0; pass < RW / RPP; pass++) {
            const int rl = pass * RPP + lane / LPR, c = lane % LPR;
            const int prow = SPARSE ? __shfl_sync(0xffffffffu, row, rl) : p0 + rl;
            const bool ok = p0 + rl < n_keys;
            const size_t goff = (size_t)(ok ? prow : 0) * ld_kv + c * 8;
            const int r = warp * RW + rl;
#pragma unroll
            for (int cc = 0; cc < CH / LPR; cc++) {
                cp_async16(sk + hswz<BN>(r, c + cc * LPR), k + goff + cc * LPR * 8, ok ? 16 : 0);
                cp_async16(sv + hswz<BN>(r, c + cc * LPR), v + goff + cc * LPR * 8, ok ? 16 : 0);
            }
        }
    }

    __device__ __forceinline__ void init_consumer() {
#pragma unroll
        for (int i = 0; i < OREGS; i++) acc[i] = 0.f;
        row_max[0] = row_max[1] = -INFINITY;
        row_sum[0] = row_sum[1] = 0.f;
    }

    // S = Q K^T for consumer warpgroup `wg` and the key tile in `stage` (issue only).
    __device__ __forceinline__ void issue_qk(float (&s)[SREGS], int stage, int wg) {
        const uint32_t sk = k_stage(stage);
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const uint64_t da = wgmma_desc(sq + (kk >> 2) * (BM * 128) + wg * 64 * 128 + (kk & 3) * 32, 16, 1024);
            const uint64_t db = wgmma_desc(sk + (kk >> 2) * (BN * 128) + (kk & 3) * 32, 16, 1024);
            Wgmma<BN>::ss(s, da, db, kk > 0);
        }
    }
    // O += P V for the value tile in `stage` (issue only).
    __device__ __forceinline__ void issue_pv(const uint32_t (&p)[BN / 16][4], int stage) {
        const uint32_t sv = k_stage(stage) + C::KV_BYTES;
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++)
            Wgmma<D>::rs(acc, p[kk], wgmma_desc(sv + kk * 16 * 128, BN * 128, 1024), 1);
    }

    // Online softmax over key tile t: masks positions past n_keys, updates the running max and
    // sums, turns s into exp2 weights and returns the factor O must be scaled by.
    __device__ __forceinline__ void scores(float (&s)[SREGS], int t, float scale_log2, int lane,
                                           float (&alpha)[2]) {
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
    }
    __device__ __forceinline__ void rescale(const float (&alpha)[2]) {
        // A factor is exactly 1 where the row max did not grow, which after the first key tiles
        // is the rule: a warp whose rows all kept theirs skips the multiplies (no bit changes;
        // 2-4% off the sparse time at 24-68% density, docs/attention-kernels.md).
        if (!__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) return;
#pragma unroll
        for (int j = 0; j < D / 8; j++) {
            acc[4 * j] *= alpha[0], acc[4 * j + 1] *= alpha[0];
            acc[4 * j + 2] *= alpha[1], acc[4 * j + 3] *= alpha[1];
        }
    }
    // The weights into P's register fragments (the A operand of P V).
    __device__ __forceinline__ void pack(const float (&s)[SREGS], uint32_t (&p)[BN / 16][4]) {
#pragma unroll
        for (int kk = 0; kk < BN / 16; kk++) {
            p[kk][0] = pack_bf16(s[8 * kk], s[8 * kk + 1]);
            p[kk][1] = pack_bf16(s[8 * kk + 2], s[8 * kk + 3]);
            p[kk][2] = pack_bf16(s[8 * kk + 4], s[8 * kk + 5]);
            p[kk][3] = pack_bf16(s[8 * kk + 6], s[8 * kk + 7]);
        }
    }

    // One key tile for this consumer warpgroup, S and P V each waited for (no overlap within
    // the warpgroup). `between` runs after S is issued (the baton of the pingpong schedule).
    template <class Between>
    __device__ __forceinline__ void consume(int t, int stage, int wg, float scale_log2, int lane,
                                            Between between) {
        float s[SREGS], alpha[2];
        uint32_t p[BN / 16][4];
        wgmma_fence();
        issue_qk(s, stage, wg);
        wgmma_commit();
        between();
        wgmma_wait<0>();
        wgmma_hold(s);
        scores(s, t, scale_log2, lane, alpha);
        rescale(alpha);
        pack(s, p);
        wgmma_fence();
        issue_pv(p, stage);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_hold(acc);
    }

    // The pingpong consumer over n_tiles key tiles, which are tiles ring0 .. ring0 + n_tiles - 1
    // of the stage ring (a persistent CTA's ring runs on across its work items). q_done() runs
    // once the last S = Q K^T has completed, when the Q tile may be overwritten. A warpgroup with
    // no query rows (active false; the per-tile kernels only: the persistent kernel gives tiles
    // of <= 64 rows to consumer_loop_split) only passes the baton and the stages on, so both
    // take the same number of turns; it calls q_done() in its last turn, before handing the
    // baton over. That turn comes after the other warpgroup has issued its last S of this tile
    // list, and the other's first turn of the next list comes after it, so a q_empty counting
    // both warpgroups' q_done() never takes an idle warpgroup's call for the next list in place
    // of a busy one's for this list (the Q tile would be reloaded under its S).
    template <class QDone>
    __device__ __forceinline__ void consumer_loop(int n_tiles, bool active, int wg, uint32_t full,
                                                  uint32_t empty, float scale_log2, int lane,
                                                  int ring0, QDone q_done) {
        constexpr int STAGES = C::STAGES;
        const int me = 1 + wg, other = 2 - wg;  // named barriers: my turn, the other's turn
        const auto stage = [&](int t) { return (ring0 + t) % STAGES; };
        const auto wait_full = [&](int t) {
            mbar_wait(full + 8 * stage(t), ((ring0 + t) / STAGES) & 1);
        };
        const auto release = [&](int t) { mbar_arrive(empty + 8 * stage(t)); };
        const int my_tiles = active ? n_tiles : 0;
        int t = 0;
        if constexpr (C::OVERLAP) {
            if (my_tiles > 0) {
                float s[SREGS], alpha[2];
                uint32_t p[BN / 16][4];
                wait_full(0);
                named_sync(me);
                wgmma_fence();
                issue_qk(s, stage(0), wg);
                wgmma_commit();
                named_arrive(other);
                wgmma_wait<0>();
                wgmma_hold(s);
                if (my_tiles == 1) q_done();
                scores(s, 0, scale_log2, lane, alpha);  // O is still zero: no rescale
                pack(s, p);
#pragma unroll 1
                for (t = 1; t < my_tiles; t++) {
                    wait_full(t);
                    named_sync(me);
                    wgmma_fence();
                    issue_qk(s, stage(t), wg);
                    wgmma_commit();
                    issue_pv(p, stage(t - 1));
                    wgmma_commit();
                    named_arrive(other);
                    wgmma_wait<1>();  // S of tile t; P V of tile t - 1 may still run
                    wgmma_hold(s);
                    if (t == my_tiles - 1) q_done();  // the last S: Q may be reloaded now
                    scores(s, t, scale_log2, lane, alpha);
                    wgmma_wait<0>();  // P V read p and wrote acc: both may change now
                    wgmma_hold(acc);
                    release(t - 1);
                    rescale(alpha);
                    pack(s, p);
                }
                wgmma_fence();
                issue_pv(p, stage(t - 1));
                wgmma_commit();
                wgmma_wait<0>();
                wgmma_hold(acc);
                release(t - 1);
            }
        } else {
#pragma unroll 1
            for (; t < my_tiles; t++) {
                wait_full(t);
                named_sync(me);
                consume(t, stage(t), wg, scale_log2, lane, [&] { named_arrive(other); });
                release(t);
            }
            if (my_tiles > 0) q_done();
        }
#pragma unroll 1
        for (; t < n_tiles; t++) {
            wait_full(t);
            named_sync(me);
            if (t == n_tiles - 1) q_done();
            named_arrive(other);
            release(t);
        }
    }

    // A tile of <= 64 query rows with both warpgroups on it (the persistent kernel): warpgroup
    // wg computes those rows against the key tiles t with t % 2 == wg, each with an online
    // softmax state of its own, and the two states are merged at the end. A lone warpgroup on
    // such a tile was held by its own S -> softmax -> P V chain (0.58 of a full tile's time per
    // key tile, where the loads alone take ~0.45); split, the tile is bound by its loads
    // (docs/attention-kernels.md, session 9). No intra-warpgroup overlap here: with two
    // warpgroups each holding one stage, the third keeps a tile in flight. The split and the
    // merge are fixed by n_tiles alone, so results repeat bit for bit.
    // Returns whether this warpgroup holds the merged state (it then stores O).
    template <class QDone>
    __device__ __forceinline__ bool consumer_loop_split(int n_tiles, int wg, uint32_t full,
                                                        uint32_t empty, float scale_log2, int lane,
                                                        int ring0, QDone q_done) {
        constexpr int STAGES = C::STAGES;
        const int me = 1 + wg, other = 2 - wg;
        const auto stage = [&](int t) { return (ring0 + t) % STAGES; };
        const int last = n_tiles - 1, last_owner = last % 2;
#pragma unroll 1
        for (int t = 0; t < n_tiles; t++) {
            mbar_wait(full + 8 * stage(t), ((ring0 + t) / STAGES) & 1);
            named_sync(me);
            if (t % 2 == wg) {
                consume(t, stage(t), 0, scale_log2, lane, [&] { named_arrive(other); });
                if (t >= last - 1) q_done();  // this warpgroup's last S = Q K^T has completed
            } else {
                if (n_tiles == 1) q_done();  // no tile of its own (turn order as in consumer_loop)
                named_arrive(other);
            }
            if (t < last) mbar_arrive(empty + 8 * stage(t));
        }
        // The merge goes through the last key tile's stage, released only after it: the owner
        // of that tile has finished reading it, the other warpgroup's tiles lie elsewhere.
        static_assert((OREGS + 4) * 512 <= 2 * C::KV_BYTES, "the merge fits in a stage");
        const uint32_t buf = k_stage(stage(last)) + (uint32_t)(threadIdx.x % 128) * 4;
        if (wg == last_owner) {
#pragma unroll
            for (int i = 0; i < OREGS; i++) st_shared_f32(buf + i * 512, acc[i]);
#pragma unroll
            for (int h = 0; h < 2; h++) {
                st_shared_f32(buf + (OREGS + h) * 512, row_max[h]);
                st_shared_f32(buf + (OREGS + 2 + h) * 512, row_sum[h]);
            }
            named_arrive(3);
        } else {
            named_sync(3);
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const float m_other = ld_shared_f32(buf + (OREGS + h) * 512);
                const float m = fmaxf(row_max[h], m_other);  // finite: one group had tile 0
                const float a = fast_exp2(row_max[h] - m), b = fast_exp2(m_other - m);
                row_sum[h] = row_sum[h] * a + ld_shared_f32(buf + (OREGS + 2 + h) * 512) * b;
#pragma unroll
                for (int j = 0; j < D / 8; j++)
#pragma unroll
                    for (int e = 0; e < 2; e++) {
                        const int i = 4 * j + 2 * h + e;
                        acc[i] = acc[i] * a + ld_shared_f32(buf + i * 512) * b;
                    }
            }
        }
        mbar_arrive(empty + 8 * stage(last));
        return wg != last_owner;
    }

    // O / row sum as bf16 for the 64-row block `block` of the tile, rows past q_len skipped. A
    // thread holds two columns of each 8-column group of its two rows; a transpose within each
    // group of 4 lanes (quad_transpose) gives it whole 16-byte groups, so a warp writes 8 rows x
    // 64 contiguous bytes per store instead of 8 rows x 16 bytes (4x fewer store instructions,
    // whole 32-byte sectors).
    __device__ __forceinline__ void store(__nv_bfloat16 *o, int q_row0, int q_len, int block, int wq,
                                          int lane) {
        const int qd = lane & 3;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            float l = row_sum[h];
            l += __shfl_xor_sync(0xffffffffu, l, 1);
            l += __shfl_xor_sync(0xffffffffu, l, 2);
            const float inv = l > 0.f ? 1.f / l : 0.f;  // a row with no key gets zeros
            const int r = block * 64 + wq * 16 + (lane >> 2) + h * 8;
            __nv_bfloat16 *dst = o + (size_t)(q_row0 + min(r, q_len - 1)) * ld_o;
#pragma unroll
            for (int i = 0; i < D / 32; i++) {  // column groups 4 i .. 4 i + 3
                uint32_t w[4];
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    const int j = 4 * i + c;
                    w[c] = pack_bf16(acc[4 * j + 2 * h] * inv, acc[4 * j + 2 * h + 1] * inv);
                }
                const uint4 group = quad_transpose(w, qd);  // group 4 i + qd, all 8 columns
                if (r < q_len) *reinterpret_cast<uint4 *>(dst + (4 * i + qd) * 8) = group;
            }
        }
    }
};

#endif  // VS_WGMMA

template <class C, bool SPARSE>
__device__ __forceinline__ void attention_tile_wgmma(const __nv_bfloat16 *__restrict__ q,
                                                     const __nv_bfloat16 *__restrict__ k,
                                                     const __nv_bfloat16 *__restrict__ v,
                                                     __nv_bfloat16 *__restrict__ o, int q_row0,
                                                     int q_len, int n_keys,
                                                     const int2 *__restrict__ list, int list_len,
                                                     float scale_log2, int ld_q, int ld_kv, int ld_o) {
#ifdef VS_WGMMA
    constexpr int STAGES = C::STAGES;
    extern __shared__ unsigned char smem_raw[];
    HopperTile<C, SPARSE> T;
    T.sq = (smem_u32(smem_raw) + 1023u) & ~1023u;  // swizzle atoms: 1024-aligned
    T.skv = T.sq + C::Q_BYTES;
    T.n_keys = n_keys;
    T.ld_q = ld_q, T.ld_kv = ld_kv, T.ld_o = ld_o;
    const uint32_t full = T.skv + STAGES * 2 * C::KV_BYTES, empty = full + 8 * STAGES;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int n_tiles = (n_keys + C::BN - 1) / C::BN;

    if constexpr (!C::PINGPONG) {
        const int wg = warp >> 2;
        const bool active = q_len > wg * 64;  // warpgroup-uniform: an empty half only loads
        T.load_q(q, q_row0, q_len, tid, C::THREADS);
        cp_async_commit();
        T.init_loader(list, list_len, lane);
        T.init_consumer();
#pragma unroll 1
        for (int t = 0; t < STAGES - 1; t++) {
            if (t < n_tiles) T.load_tile(k, v, t, t, warp, lane);
            cp_async_commit();
        }
#pragma unroll 1
        for (int t = 0; t < n_tiles; t++) {
            cp_async_wait<STAGES - 2>();
            fence_async_shared();  // cp.async data -> the tensor cores' proxy
            __syncthreads();
            if (t + STAGES - 1 < n_tiles) T.load_tile(k, v, t + STAGES - 1, (t + STAGES - 1) % STAGES, warp, lane);
            cp_async_commit();
            if (active) T.consume(t, t % STAGES, wg, scale_log2, lane, [] {});
        }
        cp_async_wait<0>();
        if (active) T.store(o, q_row0, q_len, wg, warp & 3, lane);
    } else {
        if (tid == 0)
            for (int st = 0; st < STAGES; st++) {
                mbar_init(full + 8 * st, 128);  // every producer thread, once its copies landed
                mbar_init(empty + 8 * st, 256);  // every consumer thread, once done reading
            }
        __syncthreads();
        if (warp < 4) {  // producer warpgroup
            static_assert(fits_launch_registers<56, 224>(), "setmaxnreg within the launch pool");
            lower_max_registers<56>();
            T.load_q(q, q_row0, q_len, tid, 128);
            T.init_loader(list, list_len, lane);
            // Every free stage gets a tile in flight; its `full` barrier completes when the
            // copies land, without the producer waiting for them (as CUTLASS's cp.async wgmma
            // pipelines do: no proxy fence between cp.async and the wgmma reading its data).
#pragma unroll 1
            for (int t = 0; t < n_tiles; t++) {
                const int st = t % STAGES, use = t / STAGES;
                if (use > 0) mbar_wait(empty + 8 * st, (use - 1) & 1);
                T.load_tile(k, v, t, st, warp, lane);
                mbar_arrive_when_copied(full + 8 * st);  // tile t (and Q before the first)
            }
            cp_async_wait<0>();
        } else {  // consumer warpgroups 0 and 1: rows 64 wg .. 64 wg + 63
            raise_max_registers<224>();
            const int wg = (warp >> 2) - 1;
            const bool active = q_len > wg * 64;
            T.init_consumer();
            // Baton: named barrier 1 + wg is this warpgroup's turn to issue its products. Group
            // 1 hands group 0 the first turn; each passes it on after issuing.
            if (wg == 1) named_arrive(1);
            T.consumer_loop(n_tiles, active, wg, full, empty, scale_log2, lane, 0, [] {});
            if (wg == 0) named_sync(1);  // group 1's last hand-over (its first with no tiles)
            if (active) T.store(o, q_row0, q_len, wg, warp & 3, lane);
        }
    }
#else
    __trap();  // built without sm_90a: the launcher never selects this kernel (hopper_ready)
#endif
}

// One work item of the persistent sparse kernel: a query tile of one head against its gathered
// key list (pointers at the head's base, rows of D elements).
struct SparseItem {
    const __nv_bfloat16 *q, *k, *v;
    __nv_bfloat16 *o;
    const int2 *list;
    int list_len, n_keys, q_row0, q_len;
};

// The persistent sparse kernel: one CTA per SM takes work items in turn: item blockIdx.x first,
// then whichever the shared counter gives it (items.claim()), so SMs that drew short items take
// more, and the CTAs move through the items together, head by head, which keeps a head's K/V in
// L2 (the items come sorted longest first within each head, the last two heads sorted as one
// list, so the call ends on short items). The producer runs ahead across
// items: once both consumers' last S = Q K^T of an item has completed (`q_empty`) it loads the
// next item's Q and then its key tiles into the same stage ring, so the next item's first tiles
// are in flight while the consumers finish, normalise and store the current one. That start-up
// (Q and the first tiles' latency, the pipeline's ramp, the stores) is what a CTA per tile pays
// in full, and it is large against the short key lists of sparse attention.
// The producer's thread 0 claims the items and posts each index to the CTA through two shared
// slots (mbarriers item_full / item_empty per slot); an index >= size() ends the walk.
// Items: size(), claim() -> the next index (increasing per CTA), get(index, cursor) ->
// SparseItem (cursor: int2, zero to start).
template <class C, class Items>
__device__ __forceinline__ void sparse_persistent_wgmma(const Items &items, float scale_log2) {
#ifdef VS_WGMMA
    static_assert(C::PINGPONG, "the persistent kernel is warp-specialised");
    constexpr int STAGES = C::STAGES;
    extern __shared__ unsigned char smem_raw[];
    HopperTile<C, true> T;
    T.sq = (smem_u32(smem_raw) + 1023u) & ~1023u;
    T.skv = T.sq + C::Q_BYTES;
    T.ld_q = T.ld_kv = T.ld_o = C::D;
    const uint32_t full = T.skv + STAGES * 2 * C::KV_BYTES, empty = full + 8 * STAGES;
    const uint32_t q_empty = empty + 8 * STAGES;
    const uint32_t item_full = q_empty + 8, item_empty = item_full + 16, item_slot = item_empty + 16;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

    if (tid == 0) {
        for (int st = 0; st < STAGES; st++) {
            mbar_init(full + 8 * st, 128);
            mbar_init(empty + 8 * st, 256);
        }
        mbar_init(q_empty, 256);  // every consumer thread, once its last S of an item completed
        for (int sl = 0; sl < 2; sl++) {
            mbar_init(item_full + 8 * sl, 1);      // producer thread 0, once the index is posted
            mbar_init(item_empty + 8 * sl, C::THREADS - 1);  // every other thread, once read
        }
    }
    __syncthreads();
    // The n-th item index of this CTA (n = 0, 1, ...). (Claiming one item ahead measured no
    // faster: the producer claims while the consumers still have a few key tiles to go.)
    const auto receive = [&](int n) {
        const int sl = n & 1;
        int index;
        if (tid == 0) {
            index = n == 0 ? (int)blockIdx.x : items.claim();
            if (n >= 2) mbar_wait(item_empty + 8 * sl, ((n - 2) >> 1) & 1);
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(item_slot + 4 * sl), "r"(index) : "memory");
            mbar_arrive(item_full + 8 * sl);
        } else {
            mbar_wait(item_full + 8 * sl, (n >> 1) & 1);
            asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(index) : "r"(item_slot + 4 * sl) : "memory");
            mbar_arrive(item_empty + 8 * sl);
        }
        return index;
    };
    // The CTA holds 384 x 168 registers: 128 x 72 + 256 x 216 (the item state costs the
    // producer a few registers more than attention_tile_wgmma's 56 leave it).
    if (warp < 4) {  // producer
        static_assert(fits_launch_registers<72, 216>(), "setmaxnreg within the launch pool");
        lower_max_registers<72>();
        const int total = items.size();  // after setmaxnreg: a value live across it is spilled
        int ring = 0, q_uses = 0;
        int2 cursor = make_int2(0, 0);
#pragma unroll 1
        for (int n = 0;; n++) {
            const int index = receive(n);
            if (index >= total) break;
            const SparseItem it = items.get(index, cursor);
            const int n_tiles = (it.n_keys + C::BN - 1) / C::BN;
            if (n_tiles == 0) continue;  // the consumers write zeros; no Q needed
            if (q_uses > 0) mbar_wait(q_empty, (q_uses - 1) & 1);
            q_uses++;
            T.n_keys = it.n_keys;
            T.load_q_rows(it.q, it.q_row0, it.q_len, warp, lane);
            T.init_loader(it.list, it.list_len, lane);
#pragma unroll 1
            for (int t = 0; t < n_tiles; t++) {
                const int g = ring + t, st = g % STAGES, use = g / STAGES;
                if (use > 0) mbar_wait(empty + 8 * st, (use - 1) & 1);
                T.load_tile(it.k, it.v, t, st, warp, lane);
                mbar_arrive_when_copied(full + 8 * st);  // the first tile's also covers Q
            }
            ring += n_tiles;
        }
        cp_async_wait<0>();
    } else {  // consumers
        raise_max_registers<216>();
        const int wg = (warp >> 2) - 1;
        const int total = items.size();
        if (wg == 1) named_arrive(1);  // the baton, as in attention_tile_wgmma, across all items
        int ring = 0;
        int2 cursor = make_int2(0, 0);
        int index = receive(0);
        SparseItem it;
        if (index < total) it = items.get(index, cursor);
#pragma unroll 1
        for (int n = 1; index < total; n++) {
            const int n_tiles = (it.n_keys + C::BN - 1) / C::BN;
            const bool split = it.q_len <= 64;  // both warpgroups on the rows of block 0
            bool stores = it.q_len > wg * 64;
            T.n_keys = it.n_keys;
            T.init_consumer();
            if (n_tiles > 0) {
                const auto q_done = [&] { mbar_arrive(q_empty); };
                if (split)
                    stores = T.consumer_loop_split(n_tiles, wg, full, empty, scale_log2, lane, ring,
                                                   q_done);
                else
                    T.consumer_loop(n_tiles, stores, wg, full, empty, scale_log2, lane, ring, q_done);
                ring += n_tiles;
            }
            // The next item's description is read before the stores, so its loads are in
            // flight while they drain.
            const int next_index = receive(n);
            SparseItem next = it;
            if (next_index < total) next = items.get(next_index, cursor);
            if (stores) T.store(it.o, it.q_row0, it.q_len, split ? 0 : wg, warp & 3, lane);
            index = next_index, it = next;
        }
        if (wg == 0) named_sync(1);
    }
#else
    __trap();
#endif
}

}  // namespace vs_attn
