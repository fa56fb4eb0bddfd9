/* Re-encoding a model file with other tensor types (lfm2moe_model_quantize).
 * The per-tensor type choices follow the reference engine's quantizer for
 * the tensors LFM2-MoE has, so quantizing an F32 file reproduces the
 * published type mixes (checked against the golden tiny-q-* files). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/errors.h"
#include "model/gguf.h"
#include "files/gguf_writer.h"
#include "model/model.h"
#include "quant.h"
#include "files/quantize.h"
#include "r16.h"

/* flags took reserved[0]: the struct keeps its size on 32- and 64-bit */
_Static_assert(sizeof(lfm2moe_quantize_params) == 2 * sizeof(uint32_t) + 2 * sizeof(void *) +
                                                      2 * sizeof(uint32_t) + 7 * sizeof(uint64_t),
               "lfm2moe_quantize_params changed size");

static const struct {
    int ftype;
    const char *name;
    uint32_t base; /* type of ordinary weight matrices */
} ftypes[] = {
    {LFM2MOE_FTYPE_F32, "F32", LFM_TYPE_F32},
    {LFM2MOE_FTYPE_F16, "F16", LFM_TYPE_F16},
    {LFM2MOE_FTYPE_BF16, "BF16", LFM_TYPE_BF16},
    {LFM2MOE_FTYPE_Q4_0, "Q4_0", LFM_TYPE_Q4_0},
    {LFM2MOE_FTYPE_Q4_1, "Q4_1", LFM_TYPE_Q4_1},
    {LFM2MOE_FTYPE_Q5_0, "Q5_0", LFM_TYPE_Q5_0},
    {LFM2MOE_FTYPE_Q5_1, "Q5_1", LFM_TYPE_Q5_1},
    {LFM2MOE_FTYPE_Q8_0, "Q8_0", LFM_TYPE_Q8_0},
    {LFM2MOE_FTYPE_Q2_K, "Q2_K", LFM_TYPE_Q2_K},
    {LFM2MOE_FTYPE_Q3_K_M, "Q3_K_M", LFM_TYPE_Q3_K},
    {LFM2MOE_FTYPE_Q4_K_S, "Q4_K_S", LFM_TYPE_Q4_K},
    {LFM2MOE_FTYPE_Q4_K_M, "Q4_K_M", LFM_TYPE_Q4_K},
    {LFM2MOE_FTYPE_Q5_K_S, "Q5_K_S", LFM_TYPE_Q5_K},
    {LFM2MOE_FTYPE_Q5_K_M, "Q5_K_M", LFM_TYPE_Q5_K},
    {LFM2MOE_FTYPE_Q6_K, "Q6_K", LFM_TYPE_Q6_K},
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

LFM2MOE_API const char *lfm2moe_ftype_name(int ftype) {
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ftype) return ftypes[i].name;
    return NULL;
}

LFM2MOE_API int lfm2moe_ftype_from_name(const char *name, int *ftype) {
    LFM_CHECK_ARGS(name && ftype);
    for (size_t i = 0; i < N_FTYPES; i++)
        if (!strcasecmp(ftypes[i].name, name)) {
            *ftype = ftypes[i].ftype;
            return LFM2MOE_OK;
        }
    return lfm_fail(LFM2MOE_ERR_NOT_FOUND, "unknown file type '%s'", name);
}

LFM2MOE_API int lfm2moe_quantize_params_init(lfm2moe_quantize_params *p) {
    LFM_CHECK_ARG(p, "NULL params");
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->ftype = LFM2MOE_FTYPE_Q4_K_M;
    return LFM2MOE_OK;
}

/* ---- type choice ------------------------------------------------------ */

int lfm_mix_init(lfm_mix *mix, int ftype, int tied, int n_attn_v, int n_block) {
    memset(mix, 0, sizeof *mix);
    for (size_t i = 0; i < N_FTYPES; i++)
        if (ftypes[i].ftype == ftype) {
            mix->ftype = ftype;
            mix->base = ftypes[i].base;
            mix->tied = tied;
            mix->n_attn_v = n_attn_v;
            mix->n_block = n_block;
            return LFM2MOE_OK;
        }
    return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown file type %d", ftype);
}

/* The reference quantizer's "use more bits" layers: the first and last
 * eighth, and every third in between. */
static int use_more_bits(int i, int n) {
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Block-size fallback for rows that are not a multiple of the type's block
 * (the reference engine uses IQ4_NL for Q2_K/Q3_K; Q4_0 has the same block
 * and bits and is computable here). */
static uint32_t fit_row(uint32_t t, int64_t ne0) {
    if (ne0 % lfm_type_layout_get(t)->block_size == 0) return t;
    switch (t) {
    case LFM_TYPE_Q2_K:
    case LFM_TYPE_Q3_K: t = LFM_TYPE_Q4_0; break;
    case LFM_TYPE_Q4_K: t = LFM_TYPE_Q5_0; break;
    case LFM_TYPE_Q5_K: t = LFM_TYPE_Q5_1; break;
    case LFM_TYPE_Q6_K: t = LFM_TYPE_Q8_0; break;
    default: break;
    }
    return ne0 % lfm_type_layout_get(t)->block_size == 0 ? t : LFM_TYPE_F16;
}

uint32_t lfm_mix_choose(lfm_mix *ms, const char *name, uint32_t n_dims, int64_t ne0) {
    /* vectors, the router, conv kernels and anything not a weight matrix stay F32 */
    if (n_dims < 2 || !ends_with(name, ".weight") || strstr(name, "ffn_gate_inp") ||
        strstr(name, "shortconv.conv"))
        return LFM_TYPE_F32;
    const int ft = ms->ftype;
    uint32_t type = ms->base;
    if (ft == LFM2MOE_FTYPE_F32 || ft == LFM2MOE_FTYPE_F16 || ft == LFM2MOE_FTYPE_BF16) return type;
    int block = -1;
    sscanf(name, "blk.%d.", &block);
    if (!strcmp(name, "output.weight") || (ms->tied && !strcmp(name, "token_embd.weight"))) {
        /* the output head keeps more precision */
        if (ne0 % 256) return LFM_TYPE_Q8_0;
        return type == LFM_TYPE_Q8_0 ? LFM_TYPE_Q8_0 : LFM_TYPE_Q6_K;
    } else if (strstr(name, "attn_v.weight")) {
        int i = ms->i_attn_v++;
        if (ft == LFM2MOE_FTYPE_Q2_K)
            type = LFM_TYPE_Q3_K;
        else if (ft == LFM2MOE_FTYPE_Q3_K_M)
            type = i < 2 ? LFM_TYPE_Q5_K : LFM_TYPE_Q4_K;
        else if ((ft == LFM2MOE_FTYPE_Q4_K_M || ft == LFM2MOE_FTYPE_Q5_K_M) &&
                 use_more_bits(i, ms->n_attn_v))
            type = LFM_TYPE_Q6_K;
    } else if (strstr(name, "ffn_down")) {
        /* by block index, dense and expert tensors alike */
        int i = block, n = ms->n_block;
        if (ft == LFM2MOE_FTYPE_Q2_K)
            type = LFM_TYPE_Q3_K;
        else if (ft == LFM2MOE_FTYPE_Q3_K_M)
            type = i < n / 16 ? LFM_TYPE_Q5_K : LFM_TYPE_Q4_K;
        else if ((ft == LFM2MOE_FTYPE_Q4_K_M || ft == LFM2MOE_FTYPE_Q5_K_M) && use_more_bits(i, n))
            type = LFM_TYPE_Q6_K;
        else if (ft == LFM2MOE_FTYPE_Q4_K_S && i < n / 8)
            type = LFM_TYPE_Q5_K;
    } else if (strstr(name, "attn_output.weight")) {
        if (ft == LFM2MOE_FTYPE_Q2_K)
            type = LFM_TYPE_Q3_K;
        else if (ft == LFM2MOE_FTYPE_Q3_K_M)
            type = LFM_TYPE_Q4_K;
    }
    return fit_row(type, ne0);
}

/* ---- writing ---------------------------------------------------------- */

/* A metadata entry copied from the input file. */
static void copy_kv(gguf_writer *w, const gguf_kv *kv) {
    gw_cstr(w, kv->key);
    gw_u32(w, kv->type);
    if (kv->type == GGUF_TYPE_ARRAY) {
        gw_u32(w, kv->elem_type);
        gw_u64(w, kv->n);
    }
    if (kv->elem_type == GGUF_TYPE_STRING)
        for (uint64_t i = 0; i < kv->n; i++)
            gw_str(w, kv->strs[i].ptr, kv->strs[i].len);
    else
        gw_raw(w, kv->data, (size_t)(kv->n * gguf_value_size(kv->elem_type)));
}

/* LFM2MOE_QUANTIZE_REPACK: the type tensor t is written with. */
static uint32_t repack_type(const gguf_tensor *t) {
    if (t->n_dims < 2 || !lfm_r16_supported(t->type) || t->ne[1] % LFM_R16_ROWS) return t->type;
    return t->type | LFM_TYPE_R16_FLAG;
}

/* Rows of an R16 tensor, matrix by matrix, a pair of groups at a time (a
 * group's layout depends on the parity of its index in its matrix: r16.h;
 * scratch: 32 rows). */
static void write_r16(gguf_writer *w, const gguf_tensor *t, uint8_t *scratch) {
    const size_t rb = lfm_row_bytes(t->type, t->ne[0]);
    const int64_t rows = t->ne[1], mats = t->ne[2] * t->ne[3], P = 2 * LFM_R16_ROWS;
    for (int64_t m = 0; m < mats && !w->failed; m++)
        for (int64_t r = 0; r < rows && !w->failed; r += P) {
            const int64_t n = rows - r < P ? rows - r : P;
            lfm_r16_pack(t->type, (const uint8_t *)t->data + ((size_t)m * rows + r) * rb, scratch,
                         n, t->ne[0]);
            gw_raw(w, scratch, (size_t)n * rb);
        }
}

static int quantize_model(const lfm2moe_model *m, FILE *f, const lfm2moe_quantize_params *p) {
    const gguf_file *g = &m->gguf;
    int n_attn_v = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        n_attn_v += strstr(g->tensors[i].name, "attn_v.weight") != NULL;
    lfm_mix mix;
    int st =
        lfm_mix_init(&mix, p->ftype, m->output.data == m->tok_embd.data, n_attn_v, m->hp.n_block);
    if (st) return st;
    /* the output's tensors: the input's with the types of the mix (or repacked) */
    gw_tensor *out_t = malloc((size_t)g->n_tensors * sizeof *out_t + 1);
    if (!out_t) return lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory");
    const int repack = (p->flags & LFM2MOE_QUANTIZE_REPACK) != 0;
    uint64_t total_rows = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const uint32_t type =
            repack ? repack_type(t) : lfm_mix_choose(&mix, t->name, t->n_dims, t->ne[0]);
        const uint64_t rows = (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        out_t[i] = (gw_tensor){.name = t->name,
                               .n_dims = t->n_dims,
                               .type = type,
                               .bytes = lfm_row_bytes(type, t->ne[0]) * rows};
        memcpy(out_t[i].ne, t->ne, sizeof out_t[i].ne);
        total_rows += rows;
    }

    gguf_writer w = {.f = f};
    const int has_qv = gguf_find(g, "general.quantization_version") != NULL;
    const int has_ft = gguf_find(g, "general.file_type") != NULL;
    const int has_al = gguf_find(g, "general.alignment") != NULL;
    /* R16 tensors on cache-line boundaries: their kernels load 64-byte
     * vectors, each split over two lines at GGUF's default 32 */
    const uint64_t align = repack && g->alignment < 64 ? 64 : g->alignment;
    /* a repacked file says which R16 layout it holds (r16.h); a file
     * rewritten from one is whatever this build writes */
    const int has_rl = gguf_find(g, LFM_R16_LAYOUT_KEY) != NULL;
    gw_header(&w, g->n_tensors,
              g->n_kv + !has_qv + (!has_ft && !repack) + (!has_al && align != g->alignment) +
                  (repack && !has_rl) - (!repack && has_rl));
    for (uint64_t i = 0; i < g->n_kv; i++) {
        if (!strcmp(g->kv[i].key, LFM_R16_LAYOUT_KEY)) {
            if (repack) gw_kv_u32(&w, LFM_R16_LAYOUT_KEY, LFM_R16_LAYOUT);
        } else if (!strcmp(g->kv[i].key, "general.file_type") && !repack)
            gw_kv_u32(&w, "general.file_type", (uint32_t)p->ftype);
        else if (!strcmp(g->kv[i].key, "general.alignment") && align != g->alignment)
            gw_kv_u32(&w, "general.alignment", (uint32_t)align);
        else
            copy_kv(&w, &g->kv[i]);
    }
    if (!has_ft && !repack) gw_kv_u32(&w, "general.file_type", (uint32_t)p->ftype);
    if (!has_qv) gw_kv_u32(&w, "general.quantization_version", 2);
    if (!has_al && align != g->alignment) gw_kv_u32(&w, "general.alignment", (uint32_t)align);
    if (repack && !has_rl) gw_kv_u32(&w, LFM_R16_LAYOUT_KEY, LFM_R16_LAYOUT);
    gw_tensor_table(&w, out_t, g->n_tensors, align);

    float *row = NULL;
    uint8_t *out = NULL;
    uint64_t done = 0;
    for (uint64_t i = 0; i < g->n_tensors && !w.failed && !st; i++) {
        const gguf_tensor *t = &g->tensors[i];
        const int64_t n = t->ne[0];
        const uint64_t rows = (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
        const uint32_t type = out_t[i].type;
        const size_t in_rb = lfm_row_bytes(t->type, n), out_rb = lfm_row_bytes(type, n);
        if (lfm_type_is_r16(type)) {
            free(out);
            out = malloc(2 * LFM_R16_ROWS * in_rb);
            if (!out) {
                st = lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for rows of '%s'", t->name);
                break;
            }
            write_r16(&w, t, out);
        } else if (type == t->type) { /* unchanged: copy the bytes */
            gw_raw(&w, t->data, (size_t)(in_rb * rows));
        } else {
            if (!lfm_quant_supported(t->type) || !lfm_quant_can_quantize(type)) {
                st = lfm_fail(LFM2MOE_ERR_UNSUPPORTED_TYPE,
                              "cannot convert tensor '%s' from %s to %s", t->name,
                              lfm_type_name(t->type), lfm_type_name(type));
                break;
            }
            free(row);
            free(out);
            row = malloc((size_t)n * sizeof(float));
            out = malloc(out_rb);
            if (!row || !out) {
                st =
                    lfm_fail(LFM2MOE_ERR_OUT_OF_MEMORY, "out of memory for a row of '%s'", t->name);
                break;
            }
            for (uint64_t r = 0; r < rows && !st; r++) {
                lfm_dequantize_row(t->type, (const uint8_t *)t->data + r * in_rb, row, n);
                for (int64_t j = 0; j < n; j++)
                    if (!(row[j] == row[j]) || row[j] > 3.4e38f || row[j] < -3.4e38f) {
                        st = lfm_fail(LFM2MOE_ERR_BAD_MODEL,
                                      "tensor '%s' row %llu holds a non-finite value", t->name,
                                      (unsigned long long)r);
                        break;
                    }
                if (!st) {
                    lfm_quantize_row(type, row, out, n);
                    gw_raw(&w, out, out_rb);
                }
            }
        }
        gw_pad(&w, align);
        done += rows;
        if (!st && p->progress && p->progress(p->user_data, done, total_rows))
            st = lfm_fail(LFM2MOE_ERR_CANCELLED, "quantization cancelled");
    }
    free(row);
    free(out);
    free(out_t);
    if (!st && w.failed) st = lfm_fail(LFM2MOE_ERR_IO, "write error");
    return st;
}

typedef struct quantize_job {
    const lfm2moe_model *model;
    const lfm2moe_quantize_params *params;
} quantize_job;

static int quantize_body(FILE *f, void *ctx) {
    const quantize_job *job = ctx;
    return quantize_model(job->model, f, job->params);
}

LFM2MOE_API int lfm2moe_model_quantize(const char *in_path, const char *out_path,
                                       const lfm2moe_quantize_params *params) {
    LFM_CHECK_ARG(in_path && out_path, "NULL path");
    lfm2moe_quantize_params defaults;
    if (!params) {
        lfm2moe_quantize_params_init(&defaults);
        params = &defaults;
    }
    if (params->struct_size != sizeof *params)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT,
                        "lfm2moe_quantize_params.struct_size is %u, expected %zu",
                        params->struct_size, sizeof *params);
    if (params->flags & ~(uint32_t)LFM2MOE_QUANTIZE_REPACK)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown quantize flags 0x%x", params->flags);
    if (!(params->flags & LFM2MOE_QUANTIZE_REPACK) && !lfm2moe_ftype_name(params->ftype))
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "unknown file type %d", params->ftype);
    lfm2moe_model *m = NULL;
    int st = lfm2moe_model_load(in_path, NULL, &m);
    if (st) return st;
    quantize_job job = {m, params};
    st = gw_write_file(out_path, quantize_body, &job);
    lfm2moe_model_free(m);
    return st;
}
