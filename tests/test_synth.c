/* Every published LFM2 shape `lfm2moe synth --shape` knows: its full-size
 * header and tensor table (written with LFM2MOE_SYNTH_SPARSE: no tensor
 * data) load, and the
 * loaded model reports the published shape (blocks, attention blocks,
 * experts, widths, and for the dense members the exact parameter counts of
 * their model cards), whatever the member's size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lfm2moe.h"

typedef struct expected {
    const char *shape, *arch;
    int n_block, n_attn, n_embd, n_head, n_ff, n_expert, n_used, n_ff_exp, n_dense;
    uint64_t n_params; /* 0: not published to the parameter */
} expected;

static const expected members[] = {
    {"lfm2-350m", "lfm2", 16, 6, 1024, 16, 4608, 0, 0, 0, 16, 354483968ull},
    {"lfm2-700m", "lfm2", 16, 6, 1536, 24, 6912, 0, 0, 0, 16, 742489344ull},
    {"lfm2-1.2b", "lfm2", 16, 6, 2048, 32, 8192, 0, 0, 0, 16, 1170340608ull},
    {"lfm2-2.6b", "lfm2", 30, 8, 2048, 32, 10752, 0, 0, 0, 30, 2569272320ull},
    {"lfm2-8b-a1b", "lfm2moe", 24, 6, 2048, 32, 7168, 32, 4, 1792, 2, 0},
    {"lfm2-24b-a2b", "lfm2moe", 40, 10, 2048, 32, 7168, 64, 4, 1536, 2, 0},
};

static void test_published_shapes_load(void **state) {
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "synth-shape-%d.gguf", (int)getpid());
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        const expected *e = &members[i];
        lfm2moe_synth_params sp;
        lfm2moe_synth_params_init(&sp);
        sp.shape = e->shape;
        sp.ftype = LFM2MOE_FTYPE_Q4_0;
        sp.flags = LFM2MOE_SYNTH_SPARSE;
        if (lfm2moe_model_synthesize(path, &sp)) fail_msg("%s: %s", e->shape, lfm2moe_last_error());
        lfm2moe_model *m = NULL;
        if (lfm2moe_model_load(path, NULL, &m)) fail_msg("%s: %s", e->shape, lfm2moe_last_error());
        const char *arch;
        assert_int_equal(lfm2moe_model_architecture(m, &arch), 0);
        assert_string_equal(arch, e->arch);
        lfm2moe_model_info in = {.struct_size = sizeof in};
        assert_int_equal(lfm2moe_model_get_info(m, &in), 0);
        print_message("%-13s %s: %d blocks (%d attention), %d experts, %llu parameters, "
                      "%.2f GiB as Q4_0\n",
                      e->shape, arch, in.n_block, in.n_attention_block, in.n_expert,
                      (unsigned long long)in.n_params, (double)in.file_size / (1 << 30));
        assert_int_equal(in.n_vocab, 65536);
        assert_int_equal(in.n_block, e->n_block);
        assert_int_equal(in.n_attention_block, e->n_attn);
        assert_int_equal(in.n_embd, e->n_embd);
        assert_int_equal(in.n_head, e->n_head);
        assert_int_equal(in.n_head_kv, 8);
        assert_int_equal(in.head_dim, 64);
        assert_int_equal(in.n_ff, e->n_ff);
        assert_int_equal(in.n_expert, e->n_expert);
        assert_int_equal(in.n_expert_used, e->n_used);
        assert_int_equal(in.n_ff_expert, e->n_ff_exp);
        assert_int_equal(in.n_dense_block, e->n_dense);
        if (e->n_params) assert_int_equal(in.n_params, e->n_params);
        /* a session of every shape: sized from the metadata alone */
        lfm2moe_session_params p;
        lfm2moe_session_params_init(&p);
        p.n_ctx = 256;
        p.n_batch = 64;
        p.n_threads = 1;
        lfm2moe_session *s = NULL;
        assert_int_equal(lfm2moe_session_create(m, &p, &s), LFM2MOE_OK);
        lfm2moe_session_free(s);
        lfm2moe_model_free(m);
    }
    unlink(path);
}

static void test_unknown_shape_is_named(void **state) {
    (void)state;
    lfm2moe_synth_params sp;
    lfm2moe_synth_params_init(&sp);
    sp.shape = "lfm2-9000b";
    sp.flags = LFM2MOE_SYNTH_SPARSE;
    assert_int_equal(lfm2moe_model_synthesize("never-written.gguf", &sp), LFM2MOE_ERR_NOT_FOUND);
    assert_non_null(strstr(lfm2moe_last_error(), "'lfm2-9000b'"));
    assert_non_null(strstr(lfm2moe_last_error(), "lfm2-24b-a2b"));
    assert_int_equal(access("never-written.gguf", F_OK), -1);
    sp.shape = "tiny";
    sp.flags = 2;
    assert_int_equal(lfm2moe_model_synthesize("never-written.gguf", &sp),
                     LFM2MOE_ERR_INVALID_ARGUMENT);
    assert_int_equal(access("never-written.gguf", F_OK), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_shapes_load),
        cmocka_unit_test(test_unknown_shape_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
