// Internal to the Wan model files: one table of every parameter, so that allocation, random
// init, checkpoint loading, device placement and freeing all walk the same list and cannot drift.
#pragma once
#include "runtime/wan_model.h"

typedef enum {
    WAN_INIT_MATRIX,  // N(0, 1) / sqrt(fan_in)
    WAN_INIT_BIAS,    // 0.1 N(0, 1)
    WAN_INIT_NORM,    // 1 + 0.1 N(0, 1)
    WAN_INIT_MOD,     // 0.1 N(0, 1)
} wan_init_kind;

typedef struct {
    char official[96];   // name in the official Wan checkpoints
    char diffusers[112]; // name in the diffusers checkpoints
    vs_tensor *slot;     // where the model keeps it
    int ndim;            // model shape (matrices [N, K], modulation [rows, D], vectors [n])
    int64_t shape[2];
    int ck_ndim;         // shape in the checkpoint (e.g. Conv3d [D, C, 1, 2, 2], [1, 6, D])
    int64_t ck_shape[5];
    wan_init_kind init;
} wan_param;

// Every parameter of m (per m->cfg) in a fixed order; *n gets the count. Caller frees the array.
// m->blocks must already be allocated (num_layers entries).
wan_param *wan_params(wan_model *m, int *n);
// Moves f32 CPU weights to `device` (CUDA: matrices to bf16, the rest f32); no-op for the CPU.
void wan_model_place(wan_model *m, vs_device device);
