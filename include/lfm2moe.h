/*
 * liblfm2moe: run Liquid AI LFM2 mixture-of-experts models (GGUF) on CPUs.
 *
 * One public header, a stable C ABI:
 *  - every handle is opaque and created/destroyed by the library;
 *  - no struct is ever passed by value; parameter structs are filled by an
 *    *_init function and carry `struct_size` (set by init, checked by the
 *    library) plus reserved space, so new fields can be added compatibly;
 *  - every fallible function returns an lfm2moe_status (0 = OK, negative =
 *    error).  lfm2moe_status_string() names a code, lfm2moe_last_error()
 *    gives the detail message of the last failure on the calling thread;
 *  - every *_free accepts NULL;
 *  - the library never aborts, exits or prints.  Bad input (hostile files,
 *    out-of-range tokens, a full context, NULL arguments) returns a status
 *    and leaves every handle as it was and usable.
 *
 * Thread-safety: a model is immutable once loaded and may be shared by any
 * number of sessions on any threads.  A session (and a sampler, a
 * detokenizer) must be used by one thread at a time; lfm2moe_session_cancel
 * is the exception and may be called from any thread.
 *
 * Strings are UTF-8.  Text passed in may contain any bytes (invalid UTF-8 is
 * tokenized byte by byte); lengths are explicit where text may contain NUL.
 */
#ifndef LFM2MOE_H
#define LFM2MOE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- visibility ------------------------------------------------------- */
#if defined(_WIN32) && defined(LFM2MOE_BUILDING_DLL)
#define LFM2MOE_API __declspec(dllexport)
#elif defined(_WIN32) && !defined(LFM2MOE_STATIC)
#define LFM2MOE_API __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define LFM2MOE_API __attribute__((visibility("default")))
#else
#define LFM2MOE_API
#endif

/* ---- version ---------------------------------------------------------- */
#define LFM2MOE_VERSION_MAJOR 0
#define LFM2MOE_VERSION_MINOR 1
#define LFM2MOE_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, e.g. 100 for 0.1.0 */
#define LFM2MOE_VERSION_NUMBER \
    (LFM2MOE_VERSION_MAJOR * 10000 + LFM2MOE_VERSION_MINOR * 100 + LFM2MOE_VERSION_PATCH)

/* Version number of the library actually loaded (compare with the macro). */
LFM2MOE_API unsigned lfm2moe_version(void);
/* Same as a string, e.g. "0.1.0".  Static storage. */
LFM2MOE_API const char *lfm2moe_version_string(void);

/* ---- status codes ----------------------------------------------------- */
typedef enum lfm2moe_status {
    LFM2MOE_OK = 0,
    LFM2MOE_ERR_INVALID_ARGUMENT = -1,  /* NULL pointer, bad size, bad flag  */
    LFM2MOE_ERR_OUT_OF_MEMORY = -2,
    LFM2MOE_ERR_IO = -3,                /* open/stat/mmap/read failed          */
    LFM2MOE_ERR_BAD_FORMAT = -4,        /* malformed or truncated GGUF         */
    LFM2MOE_ERR_UNSUPPORTED_ARCH = -5,  /* general.architecture not lfm2moe    */
    LFM2MOE_ERR_UNSUPPORTED_TYPE = -6,  /* a tensor type we cannot compute     */
    LFM2MOE_ERR_BAD_MODEL = -7,         /* missing/misshapen tensor, bad hparam*/
    LFM2MOE_ERR_CONTEXT_FULL = -8,      /* step would exceed the session n_ctx */
    LFM2MOE_ERR_TOKEN_OUT_OF_RANGE = -9,
    LFM2MOE_ERR_BUFFER_TOO_SMALL = -10, /* the needed size was stored          */
    LFM2MOE_ERR_NOT_FOUND = -11,        /* no such key / index / token         */
    LFM2MOE_ERR_CANCELLED = -12,        /* lfm2moe_session_cancel was called   */
    LFM2MOE_ERR_UNSUPPORTED_TEMPLATE = -13, /* chat template is not LFM2's     */
    LFM2MOE_ERR_PARSE = -14,            /* malformed tool call / input text    */
    LFM2MOE_ERR_LIMIT = -15,            /* a resource limit would be exceeded  */
    LFM2MOE_ERR_INTERNAL = -16          /* a bug: please report it             */
} lfm2moe_status;

/* Short English name of a status code.  Static storage, never NULL. */
LFM2MOE_API const char *lfm2moe_status_string(int status);

/* Detail message of the most recent failure of a library call made on the
 * calling thread (e.g. "tensor 'blk.3.ffn_up_exps.weight': unsupported type
 * IQ2_XXS").  Empty string if none.  Valid until the next failing call on
 * this thread.  Successful calls do not clear it. */
LFM2MOE_API const char *lfm2moe_last_error(void);

/* ---- CPU features / kernel selection ---------------------------------- */
/* Instruction-set levels of the SIMD kernels.  x86 and ARM levels are
 * separate ladders; SCALAR is the plain C reference available everywhere. */
typedef enum lfm2moe_isa {
    LFM2MOE_ISA_SCALAR = 0,
    LFM2MOE_ISA_AVX2 = 1,        /* AVX2 + FMA + F16C                        */
    LFM2MOE_ISA_AVX512 = 2,      /* AVX-512 F/BW/VL                          */
    LFM2MOE_ISA_AVX512_VNNI = 3, /* + VNNI (and BF16 where present)          */
    LFM2MOE_ISA_NEON = 11,
    LFM2MOE_ISA_NEON_DOTPROD = 12,
    LFM2MOE_ISA_NEON_I8MM = 13
} lfm2moe_isa;

/* Best level this CPU supports, and the level currently in use. */
LFM2MOE_API int lfm2moe_isa_detected(int *isa);
LFM2MOE_API int lfm2moe_isa_active(int *isa);
/* Cap the kernels at `isa` (process-wide; e.g. tests compare every level with
 * the scalar reference).  Asking for more than the CPU has gives the best
 * available.  The environment variable LFM2MOE_MAX_ISA (scalar, avx2, avx512,
 * avx512_vnni, neon, neon_dotprod, neon_i8mm) sets the cap at first use.
 * Call it while no session is decoding. */
LFM2MOE_API int lfm2moe_isa_set_max(int isa);
/* Name of a level ("scalar", "avx2", ...).  Static storage. */
LFM2MOE_API const char *lfm2moe_isa_name(int isa);

/* ---- model ------------------------------------------------------------ */
typedef struct lfm2moe_model lfm2moe_model;

enum {
    /* Ask the kernel to read the whole file in at load (MAP_POPULATE). */
    LFM2MOE_MODEL_PREFETCH = 1u << 0,
    /* Lock the weights in RAM (mlock); failure to lock is not an error. */
    LFM2MOE_MODEL_MLOCK = 1u << 1
};

typedef struct lfm2moe_model_params {
    uint32_t struct_size; /* sizeof(lfm2moe_model_params), set by init */
    uint32_t flags;       /* LFM2MOE_MODEL_* */
    uint64_t reserved[8];
} lfm2moe_model_params;

/* Fill *params with defaults. */
LFM2MOE_API int lfm2moe_model_params_init(lfm2moe_model_params *params);

/* Load a GGUF file.  Weights are memory-mapped, not copied; the metadata and
 * tensor table are read with ordinary reads, so a file truncated or replaced
 * while it loads gives IO or BAD_FORMAT, never a crash.  As with any mapped
 * file, the file must not be truncated while the model is in use (the OS
 * would raise SIGBUS on the missing pages); replacing it by rename is safe.
 * `params` may be NULL for defaults.  On success *out owns the model (free
 * it with lfm2moe_model_free); on failure *out is set to NULL.
 * Errors: INVALID_ARGUMENT, IO, BAD_FORMAT, UNSUPPORTED_ARCH,
 * UNSUPPORTED_TYPE, BAD_MODEL, LIMIT, OUT_OF_MEMORY. */
LFM2MOE_API int lfm2moe_model_load(const char *path, const lfm2moe_model_params *params,
                                   lfm2moe_model **out);

/* Load from a GGUF image in memory.  The buffer is NOT copied: it must stay
 * valid and unchanged until the model is freed.  Same errors as above. */
LFM2MOE_API int lfm2moe_model_load_from_memory(const void *data, size_t size,
                                               const lfm2moe_model_params *params,
                                               lfm2moe_model **out);

/* Free a model.  All its sessions, samplers and detokenizers must have been
 * freed first.  NULL is a no-op. */
LFM2MOE_API void lfm2moe_model_free(lfm2moe_model *model);

/* Kinds of the token-mixing operator of a block. */
typedef enum lfm2moe_block_kind {
    LFM2MOE_BLOCK_CONV = 0,      /* gated short convolution */
    LFM2MOE_BLOCK_ATTENTION = 1  /* grouped-query attention */
} lfm2moe_block_kind;

/* Kinds of the feed-forward part of a block. */
typedef enum lfm2moe_ffn_kind {
    LFM2MOE_FFN_DENSE = 0, /* SwiGLU */
    LFM2MOE_FFN_MOE = 1    /* routed SwiGLU experts */
} lfm2moe_ffn_kind;

typedef struct lfm2moe_model_info {
    uint32_t struct_size;      /* set by the caller: sizeof(lfm2moe_model_info) */
    int32_t n_vocab;
    int32_t n_embd;            /* hidden size */
    int32_t n_block;
    int32_t n_ctx_train;       /* context length the model was trained for */
    int32_t n_head;            /* query heads of attention blocks */
    int32_t n_head_kv;         /* key/value heads of attention blocks */
    int32_t head_dim;
    int32_t n_ff;              /* dense FFN width */
    int32_t n_expert;
    int32_t n_expert_used;
    int32_t n_ff_expert;
    int32_t n_dense_block;     /* leading blocks with a dense FFN */
    int32_t conv_l_cache;      /* short-conv kernel length */
    int32_t n_attention_block;
    float rope_freq_base;
    float rms_norm_eps;
    uint64_t n_params;         /* elements in all tensors */
    uint64_t file_size;        /* bytes (of the file or memory image) */
    uint64_t n_tensors;
    uint64_t reserved[8];
} lfm2moe_model_info;

/* Fill *info.  info->struct_size must be set by the caller. */
LFM2MOE_API int lfm2moe_model_get_info(const lfm2moe_model *model, lfm2moe_model_info *info);

/* Operator and FFN kind of block `block` (0-based). NOT_FOUND if out of range. */
LFM2MOE_API int lfm2moe_model_block_kind(const lfm2moe_model *model, int32_t block,
                                         int32_t *op_kind, int32_t *ffn_kind);

/* general.architecture.  The string is owned by the model. */
LFM2MOE_API int lfm2moe_model_architecture(const lfm2moe_model *model, const char **name);

/* Metadata: number of keys, key by index (owned by the model). */
LFM2MOE_API int lfm2moe_model_meta_count(const lfm2moe_model *model, uint64_t *count);
LFM2MOE_API int lfm2moe_model_meta_key(const lfm2moe_model *model, uint64_t index,
                                       const char **key);
/* Any metadata value rendered as text: strings as they are, numbers in
 * decimal, booleans as true/false, arrays as "[a, b, ...]" (strings in an
 * array are JSON-quoted).  Writes at most buf_size bytes including a NUL;
 * *needed (may be NULL) gets the full length without the NUL.  Returns
 * BUFFER_TOO_SMALL (after writing a truncated, NUL-terminated prefix) when
 * buf_size <= that length; buf may be NULL when buf_size is 0.
 * NOT_FOUND if there is no such key. */
LFM2MOE_API int lfm2moe_model_meta_string(const lfm2moe_model *model, const char *key,
                                          char *buf, size_t buf_size, size_t *needed);

typedef struct lfm2moe_tensor_info {
    uint32_t struct_size;   /* set by the caller */
    uint32_t type;          /* GGUF/ggml type id */
    const char *name;       /* owned by the model */
    const char *type_name;  /* "F32", "Q4_K", ... static storage */
    int32_t n_dims;
    int64_t ne[4];          /* elements per dimension, ne[0] fastest */
    uint64_t offset;        /* byte offset in the file */
    uint64_t size;          /* bytes */
    uint64_t reserved[4];
} lfm2moe_tensor_info;

/* Describe tensor `index` (0 .. n_tensors-1) in file order. */
LFM2MOE_API int lfm2moe_model_tensor_info(const lfm2moe_model *model, uint64_t index,
                                          lfm2moe_tensor_info *info);

/* ---- session ---------------------------------------------------------- */
typedef struct lfm2moe_session lfm2moe_session;

typedef struct lfm2moe_session_params {
    uint32_t struct_size;   /* set by init */
    int32_t n_ctx;          /* tokens the session can hold; 0 = min(n_ctx_train, 4096) */
    int32_t n_threads;      /* worker threads; 0 = one per online CPU */
    int32_t n_batch;        /* max tokens per internal forward chunk; 0 = 512 */
    uint64_t max_memory;    /* refuse (LIMIT) if the session needs more bytes; 0 = no cap */
    uint64_t reserved[8];
} lfm2moe_session_params;

LFM2MOE_API int lfm2moe_session_params_init(lfm2moe_session_params *params);

/* Bytes a session with these params would allocate (KV cache, conv state,
 * scratch, logits), computed without allocating.  params may be NULL. */
LFM2MOE_API int lfm2moe_session_memory_size(const lfm2moe_model *model,
                                            const lfm2moe_session_params *params,
                                            uint64_t *bytes);

/* Create a session (KV cache for attention blocks, conv state for conv
 * blocks, thread pool).  The model must outlive it.  params may be NULL.
 * Errors: INVALID_ARGUMENT, OUT_OF_MEMORY, LIMIT. */
LFM2MOE_API int lfm2moe_session_create(const lfm2moe_model *model,
                                       const lfm2moe_session_params *params,
                                       lfm2moe_session **out);

/* Free a session and join its threads.  NULL is a no-op. */
LFM2MOE_API void lfm2moe_session_free(lfm2moe_session *session);

/* Forget all tokens: position back to 0. */
LFM2MOE_API int lfm2moe_session_reset(lfm2moe_session *session);

/* Number of tokens consumed so far (the position of the next token). */
LFM2MOE_API int lfm2moe_session_position(const lfm2moe_session *session, int32_t *pos);

/* Context length of the session. */
LFM2MOE_API int lfm2moe_session_context_length(const lfm2moe_session *session, int32_t *n_ctx);

/* The model a session runs. */
LFM2MOE_API int lfm2moe_session_model(const lfm2moe_session *session,
                                      const lfm2moe_model **model);

enum {
    /* Keep the logits of every token of the step, not only the last. */
    LFM2MOE_DECODE_ALL_LOGITS = 1u << 0
};

/* Append n_tokens >= 1 tokens and run the model over them (one batched pass
 * when n_tokens > 1).  Afterwards the logits of the last token (or of every
 * token with LFM2MOE_DECODE_ALL_LOGITS) are available through
 * lfm2moe_session_logits.
 * Errors: INVALID_ARGUMENT, TOKEN_OUT_OF_RANGE, CONTEXT_FULL, CANCELLED,
 * OUT_OF_MEMORY.  On any error the session is exactly as before the call. */
LFM2MOE_API int lfm2moe_decode_step(lfm2moe_session *session, const int32_t *tokens,
                                    int32_t n_tokens, uint32_t flags);

/* Logits (n_vocab floats) of token `index` of the last step: -1 is the last
 * token; other indices need LFM2MOE_DECODE_ALL_LOGITS.  The pointer is owned
 * by the session and valid until its next decode/reset/free.
 * NOT_FOUND if there are no such logits. */
LFM2MOE_API int lfm2moe_session_logits(const lfm2moe_session *session, int32_t index,
                                       const float **logits);

/* Ask a running decode or generation on this session to stop as soon as
 * possible (it returns CANCELLED and leaves the session as before that call
 * / after the last whole token).  Safe from any thread, and from a stream
 * callback.  The request is cleared when the next call starts. */
LFM2MOE_API int lfm2moe_session_cancel(lfm2moe_session *session);

/* ---- tokenizer -------------------------------------------------------- */
enum {
    LFM2MOE_TOKENIZE_ADD_BOS = 1u << 0,       /* prepend BOS (if the model has one) */
    LFM2MOE_TOKENIZE_PARSE_SPECIAL = 1u << 1  /* "<|im_start|>" etc. in text become special tokens */
};

/* Tokenize text[0..text_len).  Writes at most max_tokens ids; *n_tokens gets
 * the number of ids the text needs.  BUFFER_TOO_SMALL if max_tokens is less
 * (tokens may be NULL when max_tokens is 0: a size query). */
LFM2MOE_API int lfm2moe_tokenize(const lfm2moe_model *model, const char *text, size_t text_len,
                                 uint32_t flags, int32_t *tokens, size_t max_tokens,
                                 size_t *n_tokens);

/* The bytes a token stands for (byte-level BPE decoded; special tokens give
 * their text).  Same buffer protocol as lfm2moe_model_meta_string but
 * without a terminating NUL: *len gets the byte count, BUFFER_TOO_SMALL if
 * buf_size < *len. */
LFM2MOE_API int lfm2moe_token_to_bytes(const lfm2moe_model *model, int32_t token, char *buf,
                                       size_t buf_size, size_t *len);

/* Concatenated bytes of tokens (no NUL appended; same protocol). */
LFM2MOE_API int lfm2moe_detokenize(const lfm2moe_model *model, const int32_t *tokens,
                                   size_t n_tokens, char *buf, size_t buf_size, size_t *len);

/* Look a token up by its exact vocabulary text (e.g. "<|im_end|>"). */
LFM2MOE_API int lfm2moe_token_lookup(const lfm2moe_model *model, const char *text,
                                     size_t text_len, int32_t *token);

enum {
    LFM2MOE_TOKEN_ATTR_NORMAL = 1u << 0,
    LFM2MOE_TOKEN_ATTR_CONTROL = 1u << 1,      /* special token, e.g. <|im_end|> */
    LFM2MOE_TOKEN_ATTR_USER_DEFINED = 1u << 2,
    LFM2MOE_TOKEN_ATTR_BYTE = 1u << 3,
    LFM2MOE_TOKEN_ATTR_UNKNOWN = 1u << 4,
    LFM2MOE_TOKEN_ATTR_UNUSED = 1u << 5,
    LFM2MOE_TOKEN_ATTR_END_OF_GENERATION = 1u << 8 /* EOS or end of turn */
};
LFM2MOE_API int lfm2moe_token_attr(const lfm2moe_model *model, int32_t token, uint32_t *attr);

typedef struct lfm2moe_vocab_info {
    uint32_t struct_size; /* set by the caller */
    int32_t n_vocab;
    int32_t bos;          /* -1 if none */
    int32_t eos;          /* -1 if none */
    int32_t pad;          /* -1 if none */
    int32_t end_of_turn;  /* <|im_end|>, -1 if none */
    int32_t add_bos;      /* tokenizer.ggml.add_bos_token */
    uint64_t reserved[4];
} lfm2moe_vocab_info;
LFM2MOE_API int lfm2moe_vocab_get_info(const lfm2moe_model *model, lfm2moe_vocab_info *info);

/* Streaming detokenizer: turns tokens into text pieces that never split a
 * UTF-8 character (incomplete trailing bytes are held back until the next
 * token completes them or flush emits them). */
typedef struct lfm2moe_detokenizer lfm2moe_detokenizer;
LFM2MOE_API int lfm2moe_detokenizer_create(const lfm2moe_model *model,
                                           lfm2moe_detokenizer **out);
LFM2MOE_API void lfm2moe_detokenizer_free(lfm2moe_detokenizer *detok);
/* Push one token; on return *piece and *len hold the bytes that are now complete
 * (possibly 0).  The piece is owned by the detokenizer and valid until its
 * next call. */
LFM2MOE_API int lfm2moe_detokenizer_push(lfm2moe_detokenizer *detok, int32_t token,
                                         const char **piece, size_t *len);
/* Emit whatever is held back (an incomplete UTF-8 sequence) and reset. */
LFM2MOE_API int lfm2moe_detokenizer_flush(lfm2moe_detokenizer *detok, const char **piece,
                                          size_t *len);

/* ---- chat template ---------------------------------------------------- */
enum {
    LFM2MOE_CHAT_ADD_GENERATION_PROMPT = 1u << 0 /* end with "<|im_start|>assistant\n" */
};

/* Render a conversation with the LFM2 chat template (implemented natively,
 * no template engine).  roles[i]/contents[i] are NUL-terminated UTF-8
 * ("system", "user", "assistant", "tool").  tools[0..n_tools) are JSON texts
 * inserted verbatim.  Output is NUL-terminated; *len (may be NULL) gets its
 * length without the NUL; BUFFER_TOO_SMALL if buf_size <= *len.
 * UNSUPPORTED_TEMPLATE if the model's tokenizer.chat_template is not LFM2's. */
LFM2MOE_API int lfm2moe_chat_render(const lfm2moe_model *model, const char *const *roles,
                                    const char *const *contents, size_t n_messages,
                                    const char *const *tools, size_t n_tools, uint32_t flags,
                                    char *buf, size_t buf_size, size_t *len);

/* ---- tool calls ------------------------------------------------------- */
/* Parse "<|tool_call_start|>[name(arg=\"v\", n=3), ...]<|tool_call_end|>"
 * blocks in generated text.  *out gets a list (possibly empty when the text
 * holds no call); PARSE with a message for a malformed call. */
typedef struct lfm2moe_tool_calls lfm2moe_tool_calls;
LFM2MOE_API int lfm2moe_tool_calls_parse(const char *text, size_t text_len,
                                         lfm2moe_tool_calls **out);
LFM2MOE_API int lfm2moe_tool_calls_count(const lfm2moe_tool_calls *calls, size_t *count);
/* Name and arguments (a JSON object text, e.g. {"city": "Paris"}) of call i;
 * strings owned by the list. */
LFM2MOE_API int lfm2moe_tool_calls_get(const lfm2moe_tool_calls *calls, size_t index,
                                       const char **name, const char **arguments_json);
LFM2MOE_API void lfm2moe_tool_calls_free(lfm2moe_tool_calls *calls);

/* ---- sampling --------------------------------------------------------- */
/* A compiled grammar (see "structured output" below). */
typedef struct lfm2moe_grammar lfm2moe_grammar;

typedef struct lfm2moe_sampling_params {
    uint32_t struct_size;     /* set by init */
    float temperature;        /* <= 0: greedy (argmax).            default 0.3  */
    int32_t top_k;            /* <= 0: off.                         default 0    */
    float top_p;              /* >= 1: off.                         default 1.0  */
    float min_p;              /* <= 0: off.                         default 0.15 */
    float repeat_penalty;     /* 1: off.                            default 1.05 */
    float frequency_penalty;  /* 0: off.                            default 0    */
    float presence_penalty;   /* 0: off.                            default 0    */
    int32_t penalty_last_n;   /* window of past tokens; 0 off, -1 all. default 64 */
    uint64_t seed;            /* same seed + same inputs = same output         */
    const int32_t *logit_bias_tokens; /* n_logit_bias token ids ...              */
    const float *logit_bias_values;   /* ... and the value added to each logit   */
    size_t n_logit_bias;      /* (arrays copied when a sampler is created)      */
    union {
        /* Constrain the output to this grammar (NULL: none, the default).
         * Not copied: it must outlive every sampler made with these params
         * (and the lfm2moe_generate call).  See lfm2moe_sampler_set_grammar. */
        const lfm2moe_grammar *grammar;
        uint64_t grammar_slot_; /* keeps the layout the same on 32-bit targets */
    };
    uint64_t reserved[7];
} lfm2moe_sampling_params;

LFM2MOE_API int lfm2moe_sampling_params_init(lfm2moe_sampling_params *params);

typedef struct lfm2moe_sampler lfm2moe_sampler;
LFM2MOE_API int lfm2moe_sampler_create(const lfm2moe_model *model,
                                       const lfm2moe_sampling_params *params,
                                       lfm2moe_sampler **out);
LFM2MOE_API void lfm2moe_sampler_free(lfm2moe_sampler *sampler);
/* Pick a token from n_vocab logits (not modified), applying penalties over
 * the tokens accepted so far.  Does not accept the token. */
LFM2MOE_API int lfm2moe_sampler_sample(lfm2moe_sampler *sampler, const float *logits,
                                       int32_t *token);
/* Record a token in the penalty history (prompt tokens too, if wanted).
 * With a grammar attached it also advances the grammar, and a token the
 * grammar does not allow is refused (INVALID_ARGUMENT, nothing recorded):
 * record prompt tokens before attaching the grammar. */
LFM2MOE_API int lfm2moe_sampler_accept(lfm2moe_sampler *sampler, int32_t token);
/* Clear the history, reseed, and put an attached grammar back at its start. */
LFM2MOE_API int lfm2moe_sampler_reset(lfm2moe_sampler *sampler);

/* ---- generation ------------------------------------------------------- */
typedef enum lfm2moe_stop_reason {
    LFM2MOE_STOP_NONE = 0,
    LFM2MOE_STOP_EOS = 1,          /* an end-of-generation token was sampled */
    LFM2MOE_STOP_STRING = 2,       /* a stop string appeared                 */
    LFM2MOE_STOP_MAX_TOKENS = 3,
    LFM2MOE_STOP_CALLBACK = 4,     /* the stream callback returned non-zero  */
    LFM2MOE_STOP_CONTEXT_FULL = 5,
    LFM2MOE_STOP_CANCELLED = 6     /* lfm2moe_session_cancel                 */
} lfm2moe_stop_reason;

/* Receives each piece of generated text (whole UTF-8 characters; text that
 * may start a stop string is held back until it is known not to).  `token`
 * is the last token that contributed to the piece.  Return 0 to go on,
 * non-zero to stop. */
typedef int (*lfm2moe_stream_fn)(void *user_data, const char *piece, size_t len,
                                 int32_t token);

typedef struct lfm2moe_generate_params {
    uint32_t struct_size;                 /* set by init */
    int32_t max_tokens;                   /* default 256; <= 0 = until the context is full */
    lfm2moe_sampling_params sampling;     /* initialised by init */
    const char *const *stop_strings;      /* NUL-terminated; not included in the output */
    size_t n_stop_strings;
    lfm2moe_stream_fn callback;           /* may be NULL */
    void *user_data;
    uint64_t reserved[8];
} lfm2moe_generate_params;

LFM2MOE_API int lfm2moe_generate_params_init(lfm2moe_generate_params *params);

typedef struct lfm2moe_generate_result {
    uint32_t struct_size;    /* set by the caller */
    int32_t stop_reason;     /* lfm2moe_stop_reason */
    int32_t n_prompt_tokens; /* tokens evaluated for the prompt */
    int32_t n_generated;     /* tokens sampled */
    double prompt_seconds;
    double generate_seconds;
    uint64_t reserved[4];
} lfm2moe_generate_result;

/* Append `prompt` (n_prompt may be 0 to continue from the session's current
 * logits) and generate until a stop condition, streaming text to the
 * callback.  Generated tokens are appended to the session, so a multi-turn
 * chat only evaluates the new turn's tokens.  The stopping token (EOS /
 * <|im_end|>) is not fed back; the caller appends it with the next turn.
 * result may be NULL.  Returns OK for every stop reason except errors. */
LFM2MOE_API int lfm2moe_generate(lfm2moe_session *session, const int32_t *prompt,
                                 size_t n_prompt, const lfm2moe_generate_params *params,
                                 lfm2moe_generate_result *result);

/* ---- structured output: grammars, JSON Schema, tool calls ------------ */
/* A grammar constrains sampling so that the generated text is always a
 * valid prefix of its language, and end-of-generation tokens (EOS,
 * <|im_end|>) are allowed only where the language may end: a generation
 * that stops by EOS produced a complete sentence of the language.  It works
 * with greedy and every sampler setting: the draw is the usual one
 * (penalties, bias, top-k, top-p, min-p, temperature) restricted to the
 * tokens the grammar allows and renormalized (if none of the tokens that
 * survive the filters is allowed, the disallowed ones are removed before
 * the filters).  Text is matched as Unicode code points over the tokens'
 * bytes (a token may end inside a UTF-8 character).
 *
 * A grammar is immutable once created and may be shared by any number of
 * samplers on any threads; each sampler keeps its own parse state.  It
 * belongs to the model it was created with, which must outlive it.
 *
 * Grammars are untrusted input: parse errors give PARSE with the line and
 * column; left recursion is refused (PARSE naming the rules); size limits
 * (1 MiB of text, 65,536 rules, 2^20 elements after repetitions are
 * expanded, {m,n} up to 10,000, stacks 1,024 deep, 256 live stacks)
 * give LIMIT or make the tokens that would exceed them unavailable. */

/* Compile a GBNF grammar (llama.cpp's format: `name ::= ...` rules,
 * alternatives `|`, groups, "literals", [character classes] with ranges
 * and ^ negation, `.`, `?` `*` `+` `{m}` `{m,}` `{m,n}` `{,n}`, # comments,
 * escapes \n \r \t \xHH \uHHHH \UHHHHHHHH).  root_rule names the start
 * rule (NULL: "root").  Errors: INVALID_ARGUMENT, NOT_FOUND (no such root
 * rule, or the model has no tokenizer), PARSE, LIMIT, OUT_OF_MEMORY. */
LFM2MOE_API int lfm2moe_grammar_create(const lfm2moe_model *model, const char *gbnf, size_t len,
                                       const char *root_rule, lfm2moe_grammar **out);

/* A grammar for the JSON texts that validate against a JSON Schema.
 * Supported: type (object, array, string, number, integer, boolean, null,
 * or a list of them), properties + required, additionalProperties (false
 * is the default: only the listed properties, in the schema's order; true
 * or a schema allows further members after them), enum, const, items
 * (prefixItems too), minItems / maxItems, minLength / maxLength, pattern
 * (a regex subset: literals, ., [classes], \d \w \s, groups, |, ? * +
 * {m,n}; anchors ^ $ around the whole pattern), anyOf / oneOf (as anyOf),
 * allOf of one schema, $ref to #/$defs/... or #/definitions/..., format
 * date / time / date-time / uuid, and annotations (title, description,
 * default, examples, $schema, $id, $comment).  Numbers have at most 16
 * integer and 16 fraction digits, and white space between tokens is
 * bounded, so a generation always ends.  Any other keyword gives
 * INVALID_ARGUMENT naming it; so do minimum, maximum, exclusiveMinimum,
 * exclusiveMaximum and multipleOf, which a grammar cannot enforce exactly.
 * Errors as above. */
LFM2MOE_API int lfm2moe_grammar_from_json_schema(const lfm2moe_model *model,
                                                 const char *schema_json, size_t len,
                                                 lfm2moe_grammar **out);

typedef enum lfm2moe_tool_choice {
    LFM2MOE_TOOL_CHOICE_AUTO = 0,     /* text, or calls: constrained once <|tool_call_start|> is sampled */
    LFM2MOE_TOOL_CHOICE_REQUIRED = 1, /* the output is one block of calls, then the end */
    LFM2MOE_TOOL_CHOICE_NONE = 2      /* free text; <|tool_call_start|> is never sampled */
} lfm2moe_tool_choice;

/* A grammar for LFM2's tool calls,
 *   <|tool_call_start|>[name(arg=value, ...), ...]<|tool_call_end|>
 * whose names are the given tools' and whose arguments follow each tool's
 * "parameters" JSON Schema (required ones first, in schema order, then
 * optional ones; values as Python literals: strings in double quotes,
 * True/False/None).  tools[0..n_tools) are the JSON texts given to
 * lfm2moe_chat_render: {"name", "description", "parameters"} or
 * {"type": "function", "function": {...}}.  AUTO and NONE need the
 * model's <|tool_call_start|> token (NOT_FOUND otherwise).  Everything the
 * grammar allows is parsed by lfm2moe_tool_calls_parse.
 * Errors: as lfm2moe_grammar_from_json_schema, for each tool. */
LFM2MOE_API int lfm2moe_grammar_from_tools(const lfm2moe_model *model,
                                           const char *const *tools, size_t n_tools,
                                           int tool_choice, lfm2moe_grammar **out);

/* The GBNF text of a grammar (generated for schemas and tools), with the
 * lfm2moe_model_meta_string buffer protocol (NUL-terminated). */
LFM2MOE_API int lfm2moe_grammar_gbnf(const lfm2moe_grammar *grammar, char *buf, size_t buf_size,
                                     size_t *needed);

/* Free a grammar.  Samplers using it must have been freed (or detached)
 * first.  NULL is a no-op. */
LFM2MOE_API void lfm2moe_grammar_free(lfm2moe_grammar *grammar);

/* Attach `grammar` to a sampler (NULL detaches), starting at the beginning
 * of the language; replaces any grammar attached before (also the one from
 * the sampling params).  From then on lfm2moe_sampler_sample picks only
 * allowed tokens and lfm2moe_sampler_accept advances the grammar.  The
 * grammar must outlive the attachment.  Errors: INVALID_ARGUMENT (a grammar
 * of another model), LIMIT, OUT_OF_MEMORY. */
LFM2MOE_API int lfm2moe_sampler_set_grammar(lfm2moe_sampler *sampler,
                                            const lfm2moe_grammar *grammar);

/* ---- quantization ----------------------------------------------------- */
/* File types (the values of GGUF general.file_type).  A "mix" chooses the
 * type of each tensor as the published files do: 1-D tensors, norms, the
 * router, conv kernels and biases stay F32; a tied embedding/output is Q6_K
 * (Q8_0 in Q8_0 files); Q4_K_M/Q5_K_M promote attn_v and some ffn_down
 * tensors to Q6_K; rows not a multiple of 256 fall back to a 32-block type. */
typedef enum lfm2moe_ftype {
    LFM2MOE_FTYPE_F32 = 0,
    LFM2MOE_FTYPE_F16 = 1,
    LFM2MOE_FTYPE_Q4_0 = 2,
    LFM2MOE_FTYPE_Q4_1 = 3,
    LFM2MOE_FTYPE_Q8_0 = 7,
    LFM2MOE_FTYPE_Q5_0 = 8,
    LFM2MOE_FTYPE_Q5_1 = 9,
    LFM2MOE_FTYPE_Q2_K = 10,
    LFM2MOE_FTYPE_Q3_K_M = 12,
    LFM2MOE_FTYPE_Q4_K_S = 14,
    LFM2MOE_FTYPE_Q4_K_M = 15,
    LFM2MOE_FTYPE_Q5_K_S = 16,
    LFM2MOE_FTYPE_Q5_K_M = 17,
    LFM2MOE_FTYPE_Q6_K = 18,
    LFM2MOE_FTYPE_BF16 = 32
} lfm2moe_ftype;

/* Name of a file type ("Q4_K_M") or NULL if unknown; and the reverse
 * (case-insensitive).  Static storage. */
LFM2MOE_API const char *lfm2moe_ftype_name(int ftype);
LFM2MOE_API int lfm2moe_ftype_from_name(const char *name, int *ftype);

/* Progress of a long operation: `done` of `total` units.  Return non-zero to
 * cancel (the operation then returns LFM2MOE_ERR_CANCELLED). */
typedef int (*lfm2moe_progress_fn)(void *user_data, uint64_t done, uint64_t total);

typedef struct lfm2moe_quantize_params {
    uint32_t struct_size;          /* set by init */
    int32_t ftype;                 /* lfm2moe_ftype; default Q4_K_M */
    lfm2moe_progress_fn progress;  /* may be NULL */
    void *user_data;
    uint64_t reserved[8];
} lfm2moe_quantize_params;

LFM2MOE_API int lfm2moe_quantize_params_init(lfm2moe_quantize_params *params);

/* Re-encode the lfm2moe GGUF file in_path (any supported weight types) as
 * out_path with the tensor types of params->ftype, copying all metadata
 * (general.file_type updated).  Streams row by row: memory use is one
 * tensor row, not the model.  out_path is replaced only on success. */
LFM2MOE_API int lfm2moe_model_quantize(const char *in_path, const char *out_path,
                                       const lfm2moe_quantize_params *params);

/* ---- synthetic models ------------------------------------------------- */
/* Random-weight models in the exact tensor layout and type mix of the
 * published files, so anyone can test and benchmark without downloading
 * weights.  Shapes: "lfm2-8b-a1b" (LFM2-8B-A1B: 24 blocks over 2048, 32
 * experts of 1792, top-4, vocab 65536) and "tiny" (a few MB, for tests).
 * The file holds a made-up byte-level vocabulary of the shape's size (the
 * 256 bytes, LFM2's special tokens, pseudo-word pieces; no merges), so
 * generation and grammars run on it; its logits are meaningless but finite. */
typedef struct lfm2moe_synth_params {
    uint32_t struct_size;         /* set by init */
    int32_t ftype;                /* lfm2moe_ftype; default Q4_0 */
    const char *shape;            /* default "lfm2-8b-a1b" */
    uint64_t seed;
    lfm2moe_progress_fn progress; /* may be NULL */
    void *user_data;
    uint64_t reserved[8];
} lfm2moe_synth_params;

LFM2MOE_API int lfm2moe_synth_params_init(lfm2moe_synth_params *params);
/* Write the model to path (replaced only on success). */
LFM2MOE_API int lfm2moe_model_synthesize(const char *path, const lfm2moe_synth_params *params);

#ifdef __cplusplus
}
#endif
#endif /* LFM2MOE_H */
