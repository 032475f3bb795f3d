#include "parallel/vs_ulysses.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/vs_check.h"

vs_range vs_split_range(int64_t n, int parts, int index) {
    int64_t base = n / parts, extra = n % parts;
    vs_range r;
    r.count = base + (index < extra ? 1 : 0);
    r.start = index * base + (index < extra ? index : extra);
    return r;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

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
    free(u);
}

vs_range vs_ulysses_my_tokens(const vs_ulysses *u) { return u->tok[u->me]; }
vs_range vs_ulysses_my_heads(const vs_ulysses *u) { return u->head[u->me]; }

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

void vs_ulysses_seq_to_heads(vs_ulysses *u, const void *q, const void *k, const void *v) {
    vs_transport *t = u->t;
    const size_t row = (size_t)u->D * u->elem;  // one head of one token
    const int64_t n_local = u->tok[u->me].count, hm = u->head[u->me].count;
    // To peer p: [3][n_local][h_p][D]. From peer p: [3][n_p][h_mine][D].
    layout(u->P, repeat(u, u->tok[u->me]), u->head, 3 * row, u->send_bytes, u->send_offsets);
    layout(u->P, u->tok, repeat(u, u->head[u->me]), 3 * row, u->recv_bytes, u->recv_offsets);
    const void *src[3] = {q, k, v};
    for (int p = 0; p < u->P; p++) {
        size_t slab = (size_t)n_local * (size_t)u->head[p].count * row;
        for (int w = 0; w < 3; w++)
            t->copy2d(t, (char *)u->send.data + u->send_offsets[p] + w * slab, (size_t)u->head[p].count * row,
                      (const char *)src[w] + (size_t)u->head[p].start * row, (size_t)u->H * row,
                      (size_t)u->head[p].count * row, (size_t)n_local);
    }
    t->alltoallv(t, u->send.data, u->send_bytes, u->send_offsets, u->recv.data, u->recv_bytes, u->recv_offsets);
    void *dst[3] = {u->qh.data, u->kh.data, u->vh.data};
    for (int p = 0; p < u->P; p++) {
        size_t slab = (size_t)u->tok[p].count * (size_t)hm * row;
        for (int w = 0; w < 3; w++)
            for (int64_t h = 0; h < hm; h++)
                t->copy2d(t, (char *)dst[w] + ((size_t)h * (size_t)u->S + (size_t)u->tok[p].start) * row, row,
                          (const char *)u->recv.data + u->recv_offsets[p] + w * slab + (size_t)h * row,
                          (size_t)hm * row, row, (size_t)u->tok[p].count);
    }
}

void vs_ulysses_heads_to_seq(vs_ulysses *u, const void *oh, void *out) {
    vs_transport *t = u->t;
    const size_t row = (size_t)u->D * u->elem;
    const int64_t n_local = u->tok[u->me].count, hm = u->head[u->me].count;
    // To peer p: [n_p][h_mine][D]. From peer p: [n_local][h_p][D].
    layout(u->P, u->tok, repeat(u, u->head[u->me]), row, u->send_bytes, u->send_offsets);
    layout(u->P, repeat(u, u->tok[u->me]), u->head, row, u->recv_bytes, u->recv_offsets);
    for (int p = 0; p < u->P; p++)
        for (int64_t h = 0; h < hm; h++)
            t->copy2d(t, (char *)u->send.data + u->send_offsets[p] + (size_t)h * row, (size_t)hm * row,
                      (const char *)oh + ((size_t)h * (size_t)u->S + (size_t)u->tok[p].start) * row, row,
                      row, (size_t)u->tok[p].count);
    t->alltoallv(t, u->send.data, u->send_bytes, u->send_offsets, u->recv.data, u->recv_bytes, u->recv_offsets);
    for (int p = 0; p < u->P; p++)
        t->copy2d(t, (char *)out + (size_t)u->head[p].start * row, (size_t)u->H * row,
                  (const char *)u->recv.data + u->recv_offsets[p], (size_t)u->head[p].count * row,
                  (size_t)u->head[p].count * row, (size_t)n_local);
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
