#include "parallel/vs_ulysses.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

#ifdef VS_HAVE_CUDA
#include "kernels/cuda/copy_blocks_cuda.h"
#endif

enum { PACK_SEQ = 0, UNPACK_HEADS, PACK_HEADS, UNPACK_SEQ, N_MOVES };

vs_range vs_split_range(int64_t n, int parts, int index) {
    int64_t base = n / parts, extra = n % parts;
    vs_range r;
    r.count = base + (index < extra ? 1 : 0);
    r.start = index * base + (index < extra ? index : extra);
    return r;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

// Fills per-peer byte counts and prefix-sum offsets: bytes[p] = a[p] * b[p] * unit.
static void layout(int P, const vs_range *a, const vs_range *b, size_t unit, size_t *bytes, size_t *offsets) {
    size_t off = 0;
    for (int p = 0; p < P; p++) {
        bytes[p] = (size_t)a[p].count * (size_t)b[p].count * unit;
        offsets[p] = off;
        off += bytes[p];
    }
}

// Same range for every peer (this rank's tokens or heads), as an array for layout().
static const vs_range *repeat(vs_ulysses *u, vs_range r) {
    for (int p = 0; p < u->P; p++) u->same[p] = r;
    return u->same;
}

// The exchange layouts, shared by the move lists and the calls:
//   seq -> heads: to peer p [3][n_local][h_p][D], from peer p [3][n_p][h_mine][D];
//   heads -> seq: to peer p [n_p][h_mine][D],    from peer p [n_local][h_p][D].
static void layout_seq_to_heads(vs_ulysses *u) {
    const size_t row = (size_t)u->D * u->elem;
    layout(u->P, repeat(u, u->tok[u->me]), u->head, 3 * row, u->send_bytes, u->send_offsets);
    layout(u->P, u->tok, repeat(u, u->head[u->me]), 3 * row, u->recv_bytes, u->recv_offsets);
}
static void layout_heads_to_seq(vs_ulysses *u) {
    const size_t row = (size_t)u->D * u->elem;
    layout(u->P, u->tok, repeat(u, u->head[u->me]), row, u->send_bytes, u->send_offsets);
    layout(u->P, repeat(u, u->tok[u->me]), u->head, row, u->recv_bytes, u->recv_offsets);
}

static vs_copy_block move(int src, int64_t src_off, int dst, int64_t dst_off, int64_t outer,
                          int64_t src_outer, int64_t dst_outer, int64_t inner, int64_t src_inner,
                          int64_t dst_inner, int64_t width) {
    vs_copy_block b = {src, dst, src_off, dst_off, outer, inner, src_outer, src_inner,
                       dst_outer, dst_inner, width};
    return b;
}

// The four move lists, in bytes (row = one head of one token, D elements).
static void build_moves(vs_ulysses *u) {
    const int64_t row = (int64_t)u->D * (int64_t)u->elem, S = u->S, H = u->H;
    const int64_t n_local = u->tok[u->me].count, hm = u->head[u->me].count;
    for (int m = 0; m < N_MOVES; m++) u->moves[m] = vs_calloc((size_t)u->P * 3, sizeof(vs_copy_block));
    layout_seq_to_heads(u);
    for (int p = 0; p < u->P; p++) {
        const int64_t hp = u->head[p].count, np = u->tok[p].count;
        for (int w = 0; w < 3; w++) {  // Q, K, V
            // Q/K/V [n_local][H][D], heads of p -> send block p, slab w: [n_local][h_p][D].
            u->moves[PACK_SEQ][u->n_moves[PACK_SEQ]++] =
                move(w, u->head[p].start * row, 0, (int64_t)u->send_offsets[p] + w * n_local * hp * row,
                     n_local, H * row, hp * row, 1, 0, 0, hp * row);
            // recv block p, slab w: [n_p][h_mine][D] -> qh/kh/vh [h_mine][S][D] at p's tokens.
            u->moves[UNPACK_HEADS][u->n_moves[UNPACK_HEADS]++] =
                move(0, (int64_t)u->recv_offsets[p] + w * np * hm * row, w, u->tok[p].start * row,
                     hm, row, S * row, np, hm * row, row, row);
        }
    }
    layout_heads_to_seq(u);
    for (int p = 0; p < u->P; p++) {
        const int64_t hp = u->head[p].count, np = u->tok[p].count;
        // oh [h_mine][S][D] at p's tokens -> send block p: [n_p][h_mine][D].
        u->moves[PACK_HEADS][u->n_moves[PACK_HEADS]++] =
            move(0, u->tok[p].start * row, 0, (int64_t)u->send_offsets[p], hm, S * row, row, np, row,
                 hm * row, row);
        // recv block p: [n_local][h_p][D] -> out [n_local][H][D] at p's heads.
        u->moves[UNPACK_SEQ][u->n_moves[UNPACK_SEQ]++] =
            move(0, (int64_t)u->recv_offsets[p], 0, u->head[p].start * row, n_local, hp * row, H * row,
                 1, 0, 0, hp * row);
    }
#ifdef VS_HAVE_CUDA
    if (u->t->memory == VS_DEV_CUDA) {
        vs_copy_blocks_cuda *c = vs_calloc(N_MOVES, sizeof *c);
        for (int m = 0; m < N_MOVES; m++) vs_copy_blocks_cuda_init(&c[m], u->moves[m], u->n_moves[m]);
        u->moves_cuda = c;
    }
#endif
}

// Runs move list m between buffers of the transport's memory.
static void run_moves(vs_ulysses *u, int m, void *const dst[VS_COPY_BASES], const void *const src[VS_COPY_BASES]) {
    if (u->t->memory == VS_DEV_CPU) {
        vs_copy_blocks_cpu(u->moves[m], u->n_moves[m], dst, src);
        return;
    }
#ifdef VS_HAVE_CUDA
    vs_copy_blocks_cuda_run(&((vs_copy_blocks_cuda *)u->moves_cuda)[m], dst, src, NULL);
#else
    vs_die(__FILE__, __LINE__, "vs_ulysses", "device memory in a build without CUDA", "use the mpi transport");
#endif
}

vs_ulysses *vs_ulysses_new(vs_transport *t, int64_t seq_len, int num_heads, int head_dim, vs_dtype dtype) {
    VS_ASSERT(num_heads >= t->size, "every Ulysses rank needs at least one head: use --ulysses <= number of heads");
    VS_ASSERT(seq_len >= 1 && head_dim >= 1, "Ulysses needs a non-empty sequence and head dimension");
    vs_ulysses *u = vs_calloc(1, sizeof *u);
    u->t = t;
    u->P = t->size;
    u->me = t->rank;
    u->S = seq_len;
    u->H = num_heads;
    u->D = head_dim;
    u->dtype = dtype;
    u->elem = vs_dtype_size(dtype);
    u->tok = vs_calloc((size_t)u->P, sizeof(vs_range));
    u->head = vs_calloc((size_t)u->P, sizeof(vs_range));
    for (int p = 0; p < u->P; p++) {
        u->tok[p] = vs_split_range(seq_len, u->P, p);
        u->head[p] = vs_split_range(num_heads, u->P, p);
    }
    int64_t n_local = u->tok[u->me].count, hm = u->head[u->me].count;
    size_t row = (size_t)head_dim * u->elem;
    size_t send = max_sz(3 * (size_t)n_local * (size_t)num_heads * row, (size_t)seq_len * (size_t)hm * row);
    size_t recv = max_sz(3 * (size_t)seq_len * (size_t)hm * row, (size_t)n_local * (size_t)num_heads * row);
    u->send = vs_tensor_new(VS_I32, t->memory, 1, (int64_t[]){(int64_t)(send + 3) / 4});
    u->recv = vs_tensor_new(VS_I32, t->memory, 1, (int64_t[]){(int64_t)(recv + 3) / 4});
    int64_t shape[3] = {hm, seq_len, head_dim};
    u->qh = vs_tensor_new(dtype, t->memory, 3, shape);
    u->kh = vs_tensor_new(dtype, t->memory, 3, shape);
    u->vh = vs_tensor_new(dtype, t->memory, 3, shape);
    u->oh = vs_tensor_new(dtype, t->memory, 3, shape);
    u->send_bytes = vs_calloc((size_t)u->P, sizeof(size_t));
    u->send_offsets = vs_calloc((size_t)u->P, sizeof(size_t));
    u->recv_bytes = vs_calloc((size_t)u->P, sizeof(size_t));
    u->recv_offsets = vs_calloc((size_t)u->P, sizeof(size_t));
    u->same = vs_calloc((size_t)u->P, sizeof(vs_range));
    build_moves(u);
    return u;
}

void vs_ulysses_free(vs_ulysses *u) {
    if (!u) return;
    vs_tensor_free(&u->send);
    vs_tensor_free(&u->recv);
    vs_tensor_free(&u->qh);
    vs_tensor_free(&u->kh);
    vs_tensor_free(&u->vh);
    vs_tensor_free(&u->oh);
    free(u->tok);
    free(u->head);
    free(u->send_bytes);
    free(u->send_offsets);
    free(u->recv_bytes);
    free(u->recv_offsets);
    free(u->same);
    for (int m = 0; m < N_MOVES; m++) free(u->moves[m]);
#ifdef VS_HAVE_CUDA
    if (u->moves_cuda)
        for (int m = 0; m < N_MOVES; m++) vs_copy_blocks_cuda_free(&((vs_copy_blocks_cuda *)u->moves_cuda)[m]);
    free(u->moves_cuda);
#endif
    free(u);
}

vs_range vs_ulysses_my_tokens(const vs_ulysses *u) { return u->tok[u->me]; }
vs_range vs_ulysses_my_heads(const vs_ulysses *u) { return u->head[u->me]; }


void vs_ulysses_seq_to_heads(vs_ulysses *u, const void *q, const void *k, const void *v) {
    vs_transport *t = u->t;
    layout_seq_to_heads(u);
    void *send[VS_COPY_BASES] = {u->send.data, NULL, NULL};
    const void *qkv[VS_COPY_BASES] = {q, k, v};
    run_moves(u, PACK_SEQ, send, qkv);
    t->alltoallv(t, u->send.data, u->send_bytes, u->send_offsets, u->recv.data, u->recv_bytes, u->recv_offsets);
    void *heads[VS_COPY_BASES] = {u->qh.data, u->kh.data, u->vh.data};
    const void *recv[VS_COPY_BASES] = {u->recv.data, NULL, NULL};
    run_moves(u, UNPACK_HEADS, heads, recv);
}

void vs_ulysses_heads_to_seq(vs_ulysses *u, const void *oh, void *out) {
    vs_transport *t = u->t;
    layout_heads_to_seq(u);
    void *send[VS_COPY_BASES] = {u->send.data, NULL, NULL};
    const void *o[VS_COPY_BASES] = {oh, NULL, NULL};
    run_moves(u, PACK_HEADS, send, o);
    t->alltoallv(t, u->send.data, u->send_bytes, u->send_offsets, u->recv.data, u->recv_bytes, u->recv_offsets);
    void *dst[VS_COPY_BASES] = {out, NULL, NULL};
    const void *recv[VS_COPY_BASES] = {u->recv.data, NULL, NULL};
    run_moves(u, UNPACK_SEQ, dst, recv);
}

void vs_ulysses_gather_tokens(vs_ulysses *u, const void *local, size_t row_bytes, void *full) {
    for (int p = 0; p < u->P; p++) {
        u->recv_bytes[p] = (size_t)u->tok[p].count * row_bytes;
        u->recv_offsets[p] = (size_t)u->tok[p].start * row_bytes;
    }
    u->t->allgatherv(u->t, local, u->recv_bytes[u->me], full, u->recv_bytes, u->recv_offsets);
}

static void ulysses_self_attention(void *vctx, int layer, const vs_tensor *q, const vs_tensor *k,
                                   const vs_tensor *v, vs_tensor *out) {
    vs_ulysses_hook_ctx *c = (vs_ulysses_hook_ctx *)vctx;
    vs_ulysses *u = c->u;
    const int64_t n_local = u->tok[u->me].count;
    const vs_tensor *in[3] = {q, k, v};
    for (int i = 0; i < 3; i++)
        if (in[i]->ndim != 3 || in[i]->shape[0] != n_local || in[i]->shape[1] != u->H ||
            in[i]->shape[2] != u->D || in[i]->dtype != u->dtype || in[i]->device != u->t->memory)
            vs_dief(__FILE__, __LINE__,
                    "the model must run only this rank's token shard, with the dtype and device the Ulysses group was built for (transport mpi: CPU, nccl: CUDA)",
                    "Ulysses attention input %d: expected [%lld, %d, %d] %s on %s", i, (long long)n_local,
                    u->H, u->D, vs_dtype_name(u->dtype), u->t->memory == VS_DEV_CPU ? "cpu" : "cuda");
    VS_ASSERT(vs_tensor_numel(out) == n_local * u->H * u->D && out->dtype == u->dtype,
              "attention output must be [n_local, heads * head_dim] in the input dtype");
    vs_ulysses_seq_to_heads(u, q->data, k->data, v->data);
    c->attend(c->attend_ctx, layer, (int)u->head[u->me].start, &u->qh, &u->kh, &u->vh, &u->oh);
    vs_ulysses_heads_to_seq(u, u->oh.data, out->data);
}

vs_attention_hook vs_ulysses_attention_hook(vs_ulysses_hook_ctx *ctx) {
    vs_attention_hook h;
    h.ctx = ctx;
    h.self_attention = ulysses_self_attention;
    return h;
}

void vs_cfg_exchange(vs_transport *pair, const float *mine, int64_t n, float *both) {
    VS_ASSERT(pair && pair->size == 2, "CFG exchange needs the CFG pair transport (vs_groups.cfg)");
    size_t bytes[2] = {(size_t)n * sizeof(float), (size_t)n * sizeof(float)};
    size_t offsets[2] = {0, (size_t)n * sizeof(float)};
    pair->allgatherv(pair, mine, bytes[pair->rank], both, bytes, offsets);
}
