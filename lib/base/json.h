/* A small JSON reader/writer for the CLI and the tests.
 *
 * Parsing is strict RFC 8259 (no comments, no trailing commas, no control
 * characters in strings); \u escapes with surrogate pairs are decoded to
 * UTF-8 (a lone surrogate becomes its 3-byte encoding); object key order is
 * preserved (a repeated key keeps its first position and its last value, as
 * Python's json.loads does).  Serialization reproduces Python's
 * json.dumps(obj, ensure_ascii=False) with the default ", " and ": "
 * separators, including float formatting (repr) and integers kept exact. */
#ifndef LFM_CLI_JSON_H
#define LFM_CLI_JSON_H

#include <stddef.h>

#include "base/strbuf.h"

typedef enum json_type {
    JSON_NULL,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    int boolean;        /* BOOL */
    double number;      /* NUMBER */
    int is_integer;     /* NUMBER written without fraction or exponent */
    char *str;          /* STRING: decoded UTF-8, NUL-terminated (may hold NULs);
                            NUMBER: the literal as written */
    size_t len;         /* length of str */
    size_t n;           /* ARRAY / OBJECT: element count */
    json_value **items; /* ARRAY elements / OBJECT values */
    char **keys;        /* OBJECT keys (decoded, NUL-terminated) */
    size_t *key_lens;
};

/* Parse text[0..len) (one value, surrounding white space allowed).  Returns
 * 0 and *out on success; -1 with a message in err (may be NULL) on error. */
int json_parse(const char *text, size_t len, json_value **out, char *err, size_t err_size);
void json_free(json_value *v);

/* Member of an object by key (NUL-terminated), or NULL. */
const json_value *json_get(const json_value *obj, const char *key);

/* Output goes to the project's string builder; json_buf is its older name,
 * still used by server/ and examples/. */
typedef strbuf json_buf;
static inline int json_buf_append(json_buf *b, const char *s, size_t n) {
    return strbuf_append(b, s, n);
}
static inline void json_buf_free(json_buf *b) {
    strbuf_free(b);
}

/* Append v serialized as Python's json.dumps(v, ensure_ascii=False).
 * Returns 0, or -1 if memory ran out. */
int json_dump(const json_value *v, json_buf *b);
/* json.dumps's other arguments.  indent NULL writes one line; otherwise
 * each member goes on its own line, indented by `indent` once per level
 * (Python's indent=4 is "    ", indent=0 is "").  item_sep / key_sep NULL
 * are Python's defaults: ", " (or "," when indenting) and ": ".  sort_keys
 * orders object members by key (code point order). */
typedef struct json_dump_opts {
    const char *indent;
    const char *item_sep;
    const char *key_sep;
    int sort_keys;
} json_dump_opts;
/* json_dump with options (o NULL = json_dump).  -1 if memory ran out or
 * the value nests deeper than the parser accepts. */
int json_dump_ex(const json_value *v, json_buf *b, const json_dump_opts *o);
/* Append s[0..n) as a JSON string literal (same escaping). */
int json_dump_string(const char *s, size_t n, json_buf *b);
/* UTF-8 encoding of code point cp (<= 0x10FFFF) into out; returns its length. */
size_t json_utf8_encode(unsigned cp, char out[4]);
/* Append a double the way Python's json.dumps writes a float. */
int json_dump_double(double x, json_buf *b);

#endif
