/* GGUF reader: every value type, alignment, and malformed files built byte
 * by byte (each must fail with BAD_FORMAT and a message, never crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/gguf.h"
#include "gguf_builder.h"
#include "lfm2moe.h"

/* A small valid file: every scalar type, arrays, and two tensors. */
static void build_all_types(gguf_writer *w, uint32_t version, uint32_t alignment) {
    gw_header_version(w, version, 2, 16);
    gw_cstr(w, "u8");
    gw_u32(w, 0);
    gw_raw(w, (uint8_t[]){200}, 1);
    gw_cstr(w, "i8");
    gw_u32(w, 1);
    gw_raw(w, (int8_t[]){-5}, 1);
    gw_cstr(w, "u16");
    gw_u32(w, 2);
    gw_raw(w, (uint16_t[]){60000}, 2);
    gw_cstr(w, "i16");
    gw_u32(w, 3);
    gw_raw(w, (int16_t[]){-30000}, 2);
    gw_kv_u32(w, "u32", 4000000000u);
    gw_cstr(w, "i32");
    gw_u32(w, 5);
    gw_raw(w, (int32_t[]){-7}, 4);
    gw_kv_f32(w, "f32", 1.5f);
    gw_cstr(w, "bool");
    gw_u32(w, 7);
    gw_raw(w, (uint8_t[]){1}, 1);
    gw_kv_str(w, "str", "hello");
    gw_cstr(w, "u64");
    gw_u32(w, 10);
    gw_u64(w, 1ull << 40);
    gw_cstr(w, "i64");
    gw_u32(w, 11);
    gw_raw(w, (int64_t[]){-(1ll << 40)}, 8);
    gw_cstr(w, "f64");
    gw_u32(w, 12);
    gw_raw(w, (double[]){2.25}, 8);
    gw_kv_i32_array(w, "arr_i32", (int32_t[]){0, 0, 2}, 3);
    gw_cstr(w, "arr_str");
    gw_u32(w, 9);
    gw_u32(w, 8);
    gw_u64(w, 2);
    gw_cstr(w, "ab");
    gw_cstr(w, "");
    gw_cstr(w, "arr_f32");
    gw_u32(w, 9);
    gw_u32(w, 6);
    gw_u64(w, 2);
    gw_raw(w, (float[]){0.5f, -1.0f}, 8);
    gw_kv_u32(w, "general.alignment", alignment);
    gw_tensor_info(w, "a", 2, (int64_t[]){4, 2}, 0, 0);       /* F32 32 bytes */
    gw_tensor_info(w, "b", 1, (int64_t[]){32}, 8, alignment); /* Q8_0 34 bytes */
    gw_pad(w, alignment);
    for (int i = 0; i < 8; i++) {
        float v = (float)i;
        gw_raw(w, &v, 4);
    }
    gw_pad(w, alignment);
    uint8_t q[34] = {0};
    gw_raw(w, q, sizeof q);
}

static void test_all_value_types(void **state) {
    (void)state;
    for (uint32_t version = 2; version <= 3; version++) {
        strbuf b = {0};
        gguf_writer w = gw_memory(&b);
        build_all_types(&w, version, 64);
        gguf_file f;
        assert_int_equal(gguf_parse(b.data, b.len, &f), LFM2MOE_OK);
        assert_int_equal(f.version, version);
        assert_int_equal(f.alignment, 64);
        assert_int_equal(f.n_kv, 16);
        int64_t v;
        assert_int_equal(gguf_get_i64(&f, "u8", &v), 0);
        assert_int_equal(v, 200);
        assert_int_equal(gguf_get_i64(&f, "i8", &v), 0);
        assert_int_equal(v, -5);
        assert_int_equal(gguf_get_i64(&f, "u16", &v), 0);
        assert_int_equal(v, 60000);
        assert_int_equal(gguf_get_i64(&f, "i16", &v), 0);
        assert_int_equal(v, -30000);
        assert_int_equal(gguf_get_i64(&f, "u32", &v), 0);
        assert_int_equal(v, 4000000000ll);
        assert_int_equal(gguf_get_i64(&f, "i32", &v), 0);
        assert_int_equal(v, -7);
        assert_int_equal(gguf_get_i64(&f, "u64", &v), 0);
        assert_int_equal(v, 1ll << 40);
        assert_int_equal(gguf_get_i64(&f, "i64", &v), 0);
        assert_int_equal(v, -(1ll << 40));
        uint32_t u;
        assert_int_equal(gguf_get_u32(&f, "i32", &u), LFM2MOE_ERR_BAD_MODEL); /* negative */
        assert_int_equal(gguf_get_u32(&f, "u64", &u), LFM2MOE_ERR_BAD_MODEL); /* too big */
        float fl;
        assert_int_equal(gguf_get_f32(&f, "f32", &fl), 0);
        assert_true(fl == 1.5f);
        assert_int_equal(gguf_get_f32(&f, "f64", &fl), 0);
        assert_true(fl == 2.25f);
        assert_int_equal(gguf_get_f32(&f, "str", &fl), LFM2MOE_ERR_BAD_MODEL);
        int bo;
        assert_int_equal(gguf_get_bool(&f, "bool", &bo), 0);
        assert_int_equal(bo, 1);
        gguf_str s;
        assert_int_equal(gguf_get_str(&f, "str", &s), 0);
        assert_int_equal(s.len, 5);
        assert_memory_equal(s.ptr, "hello", 5);
        assert_int_equal(gguf_get_str(&f, "missing", &s), LFM2MOE_ERR_NOT_FOUND);
        const gguf_kv *kv = gguf_find(&f, "arr_i32");
        assert_non_null(kv);
        assert_int_equal(kv->n, 3);
        assert_int_equal(gguf_kv_int(kv, 2), 2);
        kv = gguf_find(&f, "arr_str");
        assert_int_equal(kv->n, 2);
        assert_int_equal(kv->strs[0].len, 2);
        assert_int_equal(kv->strs[1].len, 0);
        kv = gguf_find(&f, "arr_f32");
        assert_true(gguf_kv_num(kv, 1) == -1.0);
        const gguf_tensor *t = gguf_find_tensor(&f, "b");
        assert_non_null(t);
        assert_int_equal(t->nbytes, 34);
        assert_int_equal(t->offset % 64, 0);
        assert_int_equal(((const float *)gguf_find_tensor(&f, "a")->data)[7], 7);
        gguf_free(&f);
        strbuf_free(&b);
    }
}

static void expect_bad(const void *data, size_t len, const char *needle) {
    gguf_file f;
    int st = gguf_parse(data, len, &f);
    if (st != LFM2MOE_ERR_BAD_FORMAT)
        fail_msg("expected BAD_FORMAT, got %d (%s)", st, lfm2moe_last_error());
    if (needle && !strstr(lfm2moe_last_error(), needle))
        fail_msg("message '%s' does not mention '%s'", lfm2moe_last_error(), needle);
    assert_null(f.kv);
    gguf_free(&f); /* harmless on a failed parse */
}

static void test_every_truncation(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    build_all_types(&w, 3, 32);
    /* every proper prefix fails cleanly; copy to an exact-size heap buffer
     * so a read past the end would be caught by ASan/valgrind */
    for (size_t len = 0; len < b.len; len++) {
        uint8_t *p = malloc(len ? len : 1);
        memcpy(p, b.data, len);
        expect_bad(p, len, NULL);
        free(p);
    }
    strbuf_free(&b);
}

static void test_bad_headers(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    gw_u32(&w, 0x12345678);
    gw_u32(&w, 3);
    gw_u64(&w, 0);
    gw_u64(&w, 0);
    expect_bad(b.data, b.len, "magic");
    strbuf_free(&b);
    gw_header_version(&w, 1, 0, 0);
    expect_bad(b.data, b.len, "version");
    strbuf_free(&b);
    gw_header_version(&w, 4, 0, 0);
    expect_bad(b.data, b.len, "version");
    strbuf_free(&b);
    /* absurd counts must be refused before allocating */
    gw_header(&w, UINT64_MAX / 2, 0);
    expect_bad(b.data, b.len, "tensors");
    strbuf_free(&b);
    gw_header(&w, 0, 1ull << 62);
    expect_bad(b.data, b.len, "keys");
    strbuf_free(&b);
}

static void test_bad_values(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    /* string length far past the end */
    gw_header(&w, 0, 1);
    gw_cstr(&w, "k");
    gw_u32(&w, 8);
    gw_u64(&w, 1ull << 60);
    expect_bad(b.data, b.len, "truncated");
    strbuf_free(&b);
    /* array of 2^60 u32 */
    gw_header(&w, 0, 1);
    gw_cstr(&w, "k");
    gw_u32(&w, 9);
    gw_u32(&w, 4);
    gw_u64(&w, 1ull << 60);
    expect_bad(b.data, b.len, "truncated");
    strbuf_free(&b);
    /* array of 2^40 strings */
    gw_header(&w, 0, 1);
    gw_cstr(&w, "k");
    gw_u32(&w, 9);
    gw_u32(&w, 8);
    gw_u64(&w, 1ull << 40);
    expect_bad(b.data, b.len, "truncated");
    strbuf_free(&b);
    /* nested arrays and unknown types */
    gw_header(&w, 0, 1);
    gw_cstr(&w, "k");
    gw_u32(&w, 9);
    gw_u32(&w, 9);
    gw_u64(&w, 1);
    expect_bad(b.data, b.len, "array element type");
    strbuf_free(&b);
    gw_header(&w, 0, 1);
    gw_cstr(&w, "k");
    gw_u32(&w, 13);
    gw_u32(&w, 0);
    expect_bad(b.data, b.len, "value type");
    strbuf_free(&b);
    /* duplicate key, empty key, key with NUL */
    gw_header(&w, 0, 2);
    gw_kv_u32(&w, "k", 1);
    gw_kv_u32(&w, "k", 2);
    expect_bad(b.data, b.len, "twice");
    strbuf_free(&b);
    gw_header(&w, 0, 1);
    gw_kv_u32(&w, "", 1);
    expect_bad(b.data, b.len, "empty");
    strbuf_free(&b);
    gw_header(&w, 0, 1);
    gw_u64(&w, 3);
    gw_raw(&w, "a\0b", 3);
    gw_u32(&w, 4);
    gw_u32(&w, 1);
    expect_bad(b.data, b.len, "NUL");
    strbuf_free(&b);
    /* alignment not a power of two */
    gw_header(&w, 0, 1);
    gw_kv_u32(&w, "general.alignment", 24);
    expect_bad(b.data, b.len, "alignment");
    strbuf_free(&b);
}

static void one_tensor(gguf_writer *w, int n_dims, const int64_t *ne, uint32_t type,
                       uint64_t offset, size_t data_bytes) {
    gw_header(w, 1, 0);
    gw_tensor_info(w, "t", n_dims, ne, type, offset);
    gw_pad(w, 32);
    uint8_t *zeros = calloc(1, data_bytes + 1);
    gw_raw(w, zeros, data_bytes);
    free(zeros);
}

static void test_bad_tensors(void **state) {
    (void)state;
    strbuf b = {0};
    gguf_writer w = gw_memory(&b);
    one_tensor(&w, 1, (int64_t[]){8}, 0, 0, 32);
    gguf_file f;
    assert_int_equal(gguf_parse(b.data, b.len, &f), LFM2MOE_OK); /* the control case */
    gguf_free(&f);
    expect_bad(b.data, b.len - 1, "past the end");
    strbuf_free(&b);
    one_tensor(&w, 5, (int64_t[]){1, 1, 1, 1, 1}, 0, 0, 32);
    expect_bad(b.data, b.len, "dimensions");
    strbuf_free(&b);
    one_tensor(&w, 2, (int64_t[]){8, 0}, 0, 0, 32);
    expect_bad(b.data, b.len, "dimension");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){8}, 4, 0, 32); /* type id 4 was removed */
    expect_bad(b.data, b.len, "unknown type");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){8}, 1000, 0, 32);
    expect_bad(b.data, b.len, "unknown type");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){48}, 8, 0, 64); /* Q8_0 row not a multiple of 32 */
    expect_bad(b.data, b.len, "block size");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){8}, 0, 16, 64); /* misaligned offset */
    expect_bad(b.data, b.len, "aligned");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){8}, 0, 1ull << 62, 32);
    expect_bad(b.data, b.len, "past the end");
    strbuf_free(&b);
    /* element count overflowing 64 bits */
    one_tensor(&w, 4, (int64_t[]){1ll << 20, 1ll << 20, 1ll << 20, 1ll << 20}, 0, 0, 32);
    expect_bad(b.data, b.len, "larger than the file");
    strbuf_free(&b);
    one_tensor(&w, 1, (int64_t[]){INT64_MAX}, 0, 0, 32);
    expect_bad(b.data, b.len, "larger than the file");
    strbuf_free(&b);
    /* duplicate tensor names */
    gw_header(&w, 2, 0);
    gw_tensor_info(&w, "t", 1, (int64_t[]){8}, 0, 0);
    gw_tensor_info(&w, "t", 1, (int64_t[]){8}, 0, 32);
    gw_pad(&w, 32);
    gw_raw(&w, (uint8_t[64]){0}, 64);
    expect_bad(b.data, b.len, "twice");
    strbuf_free(&b);
}

/* Bit flips in the header region of a golden model: any outcome but a crash
 * (ASan/valgrind runs of this test catch out-of-bounds reads). */
static void test_bitflips_of_golden_header(void **state) {
    (void)state;
    FILE *fp = fopen(GOLDEN_DIR "/tiny-q-q4_0.gguf", "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *orig = malloc((size_t)size), *buf = malloc((size_t)size);
    assert_int_equal(fread(orig, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    gguf_file f;
    assert_int_equal(gguf_parse(orig, (uint64_t)size, &f), LFM2MOE_OK);
    size_t header = (size_t)f.data_offset;
    gguf_free(&f);
    uint32_t seed = 99;
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, (size_t)size);
        seed = seed * 1664525u + 1013904223u;
        size_t pos = (seed >> 8) % header;
        buf[pos] ^= (uint8_t)(1u << (seed & 7));
        int st = gguf_parse(buf, (uint64_t)size, &f);
        if (st == LFM2MOE_OK)
            ok++;
        else
            bad++;
        assert_true(st == LFM2MOE_OK || st == LFM2MOE_ERR_BAD_FORMAT ||
                    st == LFM2MOE_ERR_OUT_OF_MEMORY);
        gguf_free(&f);
    }
    print_message("bit flips: %d parsed, %d refused\n", ok, bad);
    assert_true(bad > 0);
    free(orig);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_value_types), cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_bad_headers),     cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_tensors),     cmocka_unit_test(test_bitflips_of_golden_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
