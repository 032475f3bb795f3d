// Counter-based random numbers (Philox4x32-10), identical on the CPU and in CUDA kernels.
//
// A value is a pure function of (seed, index): element i of the initial noise is the same
// whichever rank, device or thread computes it, so every rank layout draws the same video.
#pragma once
#include <math.h>
#include <stdint.h>

#if defined(__CUDACC__)
#define VS_HD __host__ __device__ __forceinline__
#else
#define VS_HD static inline
#endif

typedef struct { uint32_t v[4]; } vs_philox_out;

VS_HD vs_philox_out vs_philox4x32(uint64_t seed, uint64_t counter) {
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    vs_philox_out o = {{c0, c1, c2, c3}};
    return o;
}

// Uniform in (0, 1], from 24 random bits.
VS_HD float vs_u32_to_unit(uint32_t x) { return ((float)(x >> 8) + 1.0f) * (1.0f / 16777216.0f); }

// Standard normal for element `index` of stream `seed` (Box-Muller on one Philox draw).
VS_HD float vs_normal_at(uint64_t seed, uint64_t index) {
    vs_philox_out r = vs_philox4x32(seed, index);
    float u1 = vs_u32_to_unit(r.v[0]);
    float u2 = vs_u32_to_unit(r.v[1]);
    // Computed in double so CPU and GPU round the same way.
    double radius = sqrt(-2.0 * log((double)u1));
    return (float)(radius * cos(6.283185307179586 * (double)u2));
}

// Uniform integer in [0, n) for element `index` of stream `seed`.
VS_HD uint32_t vs_uniform_index(uint64_t seed, uint64_t index, uint32_t n) {
    vs_philox_out r = vs_philox4x32(seed, index);
    uint64_t wide = ((uint64_t)r.v[0] << 32) | r.v[1];
    return (uint32_t)(wide % n);
}
