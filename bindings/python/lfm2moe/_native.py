"""ctypes declarations of the C API in include/lfm2moe.h.

Every function is declared with its restype/argtypes next to its C
prototype.  Structs mirror the header field by field (ctypes applies the
same natural alignment as the C compiler); tests/test_lfm2moe.py (LayoutTest) checks
sizes and offsets against a C program built from the real header.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, Union, c_char_p, c_double, c_float,
                    c_int, c_int32, c_size_t, c_uint, c_uint32, c_uint64, c_void_p)

# The header this module was written against (include/lfm2moe.h).
VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0

# Status codes (enum lfm2moe_status).
OK = 0
ERR_INVALID_ARGUMENT = -1
ERR_OUT_OF_MEMORY = -2
ERR_IO = -3
ERR_BAD_FORMAT = -4
ERR_UNSUPPORTED_ARCH = -5
ERR_UNSUPPORTED_TYPE = -6
ERR_BAD_MODEL = -7
ERR_CONTEXT_FULL = -8
ERR_TOKEN_OUT_OF_RANGE = -9
ERR_BUFFER_TOO_SMALL = -10
ERR_NOT_FOUND = -11
ERR_CANCELLED = -12
ERR_UNSUPPORTED_TEMPLATE = -13
ERR_PARSE = -14
ERR_LIMIT = -15
ERR_INTERNAL = -16

MODEL_PREFETCH = 1 << 0
MODEL_MLOCK = 1 << 1
DECODE_ALL_LOGITS = 1 << 0
TOKENIZE_ADD_BOS = 1 << 0
TOKENIZE_PARSE_SPECIAL = 1 << 1
CHAT_ADD_GENERATION_PROMPT = 1 << 0

TOKEN_ATTR_NORMAL = 1 << 0
TOKEN_ATTR_CONTROL = 1 << 1
TOKEN_ATTR_USER_DEFINED = 1 << 2
TOKEN_ATTR_BYTE = 1 << 3
TOKEN_ATTR_UNKNOWN = 1 << 4
TOKEN_ATTR_UNUSED = 1 << 5
TOKEN_ATTR_END_OF_GENERATION = 1 << 8

STOP_REASONS = {0: "none", 1: "eos", 2: "stop_string", 3: "max_tokens", 4: "callback",
                5: "context_full", 6: "cancelled"}

# Opaque handles are plain void pointers on the Python side.
model_p = c_void_p
session_p = c_void_p
sampler_p = c_void_p
detok_p = c_void_p
tool_calls_p = c_void_p


class ModelParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("flags", c_uint32), ("reserved", c_uint64 * 8)]


class ModelInfo(Structure):
    _fields_ = [("struct_size", c_uint32), ("n_vocab", c_int32), ("n_embd", c_int32),
                ("n_block", c_int32), ("n_ctx_train", c_int32), ("n_head", c_int32),
                ("n_head_kv", c_int32), ("head_dim", c_int32), ("n_ff", c_int32),
                ("n_expert", c_int32), ("n_expert_used", c_int32), ("n_ff_expert", c_int32),
                ("n_dense_block", c_int32), ("conv_l_cache", c_int32),
                ("n_attention_block", c_int32), ("rope_freq_base", c_float),
                ("rms_norm_eps", c_float), ("n_params", c_uint64), ("file_size", c_uint64),
                ("n_tensors", c_uint64), ("reserved", c_uint64 * 8)]


class TensorInfo(Structure):
    _fields_ = [("struct_size", c_uint32), ("type", c_uint32), ("name", c_char_p),
                ("type_name", c_char_p), ("n_dims", c_int32), ("ne", ctypes.c_int64 * 4),
                ("offset", c_uint64), ("size", c_uint64), ("reserved", c_uint64 * 4)]


class SessionParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("n_ctx", c_int32), ("n_threads", c_int32),
                ("n_batch", c_int32), ("max_memory", c_uint64), ("reserved", c_uint64 * 8)]


class VocabInfo(Structure):
    _fields_ = [("struct_size", c_uint32), ("n_vocab", c_int32), ("bos", c_int32),
                ("eos", c_int32), ("pad", c_int32), ("end_of_turn", c_int32),
                ("add_bos", c_int32), ("reserved", c_uint64 * 4)]


class _GrammarSlot(Union):
    # union { const lfm2moe_grammar *grammar; uint64_t grammar_slot_; }
    _fields_ = [("grammar", c_void_p), ("grammar_slot_", c_uint64)]


class SamplingParams(Structure):
    _anonymous_ = ("_grammar",)
    _fields_ = [("struct_size", c_uint32), ("temperature", c_float), ("top_k", c_int32),
                ("top_p", c_float), ("min_p", c_float), ("repeat_penalty", c_float),
                ("frequency_penalty", c_float), ("presence_penalty", c_float),
                ("penalty_last_n", c_int32), ("seed", c_uint64),
                ("logit_bias_tokens", POINTER(c_int32)), ("logit_bias_values", POINTER(c_float)),
                ("n_logit_bias", c_size_t), ("_grammar", _GrammarSlot),
                ("reserved", c_uint64 * 7)]


# typedef int (*lfm2moe_stream_fn)(void *user_data, const char *piece, size_t len, int32_t token);
# `piece` is declared as a void pointer: c_char_p would stop at a NUL and
# decode nothing; the bytes are read with ctypes.string_at(piece, len).
STREAM_FN = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_int32)


class GenerateParams(Structure):
    _fields_ = [("struct_size", c_uint32), ("max_tokens", c_int32), ("sampling", SamplingParams),
                ("stop_strings", POINTER(c_char_p)), ("n_stop_strings", c_size_t),
                ("callback", STREAM_FN), ("user_data", c_void_p), ("reserved", c_uint64 * 8)]


class GenerateResult(Structure):
    _fields_ = [("struct_size", c_uint32), ("stop_reason", c_int32),
                ("n_prompt_tokens", c_int32), ("n_generated", c_int32),
                ("prompt_seconds", c_double), ("generate_seconds", c_double),
                ("reserved", c_uint64 * 4)]


STRUCTS = {"lfm2moe_model_params": ModelParams, "lfm2moe_model_info": ModelInfo,
           "lfm2moe_tensor_info": TensorInfo, "lfm2moe_session_params": SessionParams,
           "lfm2moe_vocab_info": VocabInfo, "lfm2moe_sampling_params": SamplingParams,
           "lfm2moe_generate_params": GenerateParams,
           "lfm2moe_generate_result": GenerateResult}


def _candidates():
    """Library paths in the order they are tried."""
    env = os.environ.get("LFM2MOE_LIBRARY")
    if env:
        # An explicit choice: no silent fallback to another copy.
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.platform == "darwin":
        names = ["liblfm2moe.dylib", "liblfm2moe.0.dylib"]
    elif sys.platform == "win32":
        names = ["lfm2moe.dll", "liblfm2moe.dll"]
    else:
        names = ["liblfm2moe.so", "liblfm2moe.so.0"]
    paths = [os.path.join(here, n) for n in names]
    paths = [p for p in paths if os.path.exists(p)]
    # The system loader path (LD_LIBRARY_PATH, ld.so.cache, ...).
    found = ctypes.util.find_library("lfm2moe")
    paths += names + ([found] if found else [])
    return paths, False


def _load():
    paths, explicit = _candidates()
    errors = []
    for p in paths:
        try:
            return ctypes.CDLL(p)
        except OSError as e:
            errors.append("%s: %s" % (p, e))
            if explicit:
                break
    raise ImportError("cannot load liblfm2moe (set LFM2MOE_LIBRARY to the path of "
                      "liblfm2moe.so): " + "; ".join(errors))


lib = _load()

_missing = []


def _fn(name, restype, argtypes):
    """Declare one C function.  A symbol absent from an older library of the
    same major version is recorded and reported when it is used."""
    try:
        f = getattr(lib, name)
    except AttributeError:
        _missing.append(name)
        return None
    f.restype = restype
    f.argtypes = argtypes
    return f


def require(f, name):
    if f is None:
        raise NotImplementedError("the loaded liblfm2moe (%s) has no %s" % (version_string(), name))
    return f


P = POINTER
i32p = P(c_int32)
szp = P(c_size_t)
u32p = P(c_uint32)
ccp = c_char_p  # const char * in
ccpp = P(c_char_p)  # const char ** out (string owned by the library)

# unsigned lfm2moe_version(void);
lfm2moe_version = _fn("lfm2moe_version", c_uint, [])
# const char *lfm2moe_version_string(void);
lfm2moe_version_string = _fn("lfm2moe_version_string", c_char_p, [])
# const char *lfm2moe_status_string(int status);
lfm2moe_status_string = _fn("lfm2moe_status_string", c_char_p, [c_int])
# const char *lfm2moe_last_error(void);
lfm2moe_last_error = _fn("lfm2moe_last_error", c_char_p, [])

# int lfm2moe_isa_detected(int *isa);
lfm2moe_isa_detected = _fn("lfm2moe_isa_detected", c_int, [P(c_int)])
# int lfm2moe_isa_active(int *isa);
lfm2moe_isa_active = _fn("lfm2moe_isa_active", c_int, [P(c_int)])
# int lfm2moe_isa_set_max(int isa);
lfm2moe_isa_set_max = _fn("lfm2moe_isa_set_max", c_int, [c_int])
# const char *lfm2moe_isa_name(int isa);
lfm2moe_isa_name = _fn("lfm2moe_isa_name", c_char_p, [c_int])

# int lfm2moe_model_params_init(lfm2moe_model_params *params);
lfm2moe_model_params_init = _fn("lfm2moe_model_params_init", c_int, [P(ModelParams)])
# int lfm2moe_model_load(const char *path, const lfm2moe_model_params *params,
#                        lfm2moe_model **out);
lfm2moe_model_load = _fn("lfm2moe_model_load", c_int, [ccp, P(ModelParams), P(model_p)])
# int lfm2moe_model_load_from_memory(const void *data, size_t size,
#                                    const lfm2moe_model_params *params, lfm2moe_model **out);
lfm2moe_model_load_from_memory = _fn("lfm2moe_model_load_from_memory", c_int,
                                     [c_void_p, c_size_t, P(ModelParams), P(model_p)])
# void lfm2moe_model_free(lfm2moe_model *model);
lfm2moe_model_free = _fn("lfm2moe_model_free", None, [model_p])
# int lfm2moe_model_get_info(const lfm2moe_model *model, lfm2moe_model_info *info);
lfm2moe_model_get_info = _fn("lfm2moe_model_get_info", c_int, [model_p, P(ModelInfo)])
# int lfm2moe_model_block_kind(const lfm2moe_model *model, int32_t block,
#                              int32_t *op_kind, int32_t *ffn_kind);
lfm2moe_model_block_kind = _fn("lfm2moe_model_block_kind", c_int, [model_p, c_int32, i32p, i32p])
# int lfm2moe_model_architecture(const lfm2moe_model *model, const char **name);
lfm2moe_model_architecture = _fn("lfm2moe_model_architecture", c_int, [model_p, ccpp])
# int lfm2moe_model_meta_count(const lfm2moe_model *model, uint64_t *count);
lfm2moe_model_meta_count = _fn("lfm2moe_model_meta_count", c_int, [model_p, P(c_uint64)])
# int lfm2moe_model_meta_key(const lfm2moe_model *model, uint64_t index, const char **key);
lfm2moe_model_meta_key = _fn("lfm2moe_model_meta_key", c_int, [model_p, c_uint64, ccpp])
# int lfm2moe_model_meta_string(const lfm2moe_model *model, const char *key,
#                               char *buf, size_t buf_size, size_t *needed);
lfm2moe_model_meta_string = _fn("lfm2moe_model_meta_string", c_int,
                                [model_p, ccp, c_void_p, c_size_t, szp])
# int lfm2moe_model_tensor_info(const lfm2moe_model *model, uint64_t index,
#                               lfm2moe_tensor_info *info);
lfm2moe_model_tensor_info = _fn("lfm2moe_model_tensor_info", c_int,
                                [model_p, c_uint64, P(TensorInfo)])

# int lfm2moe_session_params_init(lfm2moe_session_params *params);
lfm2moe_session_params_init = _fn("lfm2moe_session_params_init", c_int, [P(SessionParams)])
# int lfm2moe_session_memory_size(const lfm2moe_model *model,
#                                 const lfm2moe_session_params *params, uint64_t *bytes);
lfm2moe_session_memory_size = _fn("lfm2moe_session_memory_size", c_int,
                                  [model_p, P(SessionParams), P(c_uint64)])
# int lfm2moe_session_create(const lfm2moe_model *model, const lfm2moe_session_params *params,
#                            lfm2moe_session **out);
lfm2moe_session_create = _fn("lfm2moe_session_create", c_int,
                             [model_p, P(SessionParams), P(session_p)])
# void lfm2moe_session_free(lfm2moe_session *session);
lfm2moe_session_free = _fn("lfm2moe_session_free", None, [session_p])
# int lfm2moe_session_reset(lfm2moe_session *session);
lfm2moe_session_reset = _fn("lfm2moe_session_reset", c_int, [session_p])
# int lfm2moe_session_position(const lfm2moe_session *session, int32_t *pos);
lfm2moe_session_position = _fn("lfm2moe_session_position", c_int, [session_p, i32p])
# int lfm2moe_session_context_length(const lfm2moe_session *session, int32_t *n_ctx);
lfm2moe_session_context_length = _fn("lfm2moe_session_context_length", c_int, [session_p, i32p])
# int lfm2moe_session_model(const lfm2moe_session *session, const lfm2moe_model **model);
lfm2moe_session_model = _fn("lfm2moe_session_model", c_int, [session_p, P(model_p)])
# int lfm2moe_decode_step(lfm2moe_session *session, const int32_t *tokens, int32_t n_tokens,
#                         uint32_t flags);
lfm2moe_decode_step = _fn("lfm2moe_decode_step", c_int, [session_p, i32p, c_int32, c_uint32])
# int lfm2moe_session_logits(const lfm2moe_session *session, int32_t index,
#                            const float **logits);
lfm2moe_session_logits = _fn("lfm2moe_session_logits", c_int,
                             [session_p, c_int32, P(P(c_float))])
# int lfm2moe_session_cancel(lfm2moe_session *session);
lfm2moe_session_cancel = _fn("lfm2moe_session_cancel", c_int, [session_p])

# int lfm2moe_tokenize(const lfm2moe_model *model, const char *text, size_t text_len,
#                      uint32_t flags, int32_t *tokens, size_t max_tokens, size_t *n_tokens);
lfm2moe_tokenize = _fn("lfm2moe_tokenize", c_int,
                       [model_p, ccp, c_size_t, c_uint32, i32p, c_size_t, szp])
# int lfm2moe_token_to_bytes(const lfm2moe_model *model, int32_t token, char *buf,
#                            size_t buf_size, size_t *len);
lfm2moe_token_to_bytes = _fn("lfm2moe_token_to_bytes", c_int,
                             [model_p, c_int32, c_void_p, c_size_t, szp])
# int lfm2moe_detokenize(const lfm2moe_model *model, const int32_t *tokens, size_t n_tokens,
#                        char *buf, size_t buf_size, size_t *len);
lfm2moe_detokenize = _fn("lfm2moe_detokenize", c_int,
                         [model_p, i32p, c_size_t, c_void_p, c_size_t, szp])
# int lfm2moe_token_lookup(const lfm2moe_model *model, const char *text, size_t text_len,
#                          int32_t *token);
lfm2moe_token_lookup = _fn("lfm2moe_token_lookup", c_int, [model_p, ccp, c_size_t, i32p])
# int lfm2moe_token_attr(const lfm2moe_model *model, int32_t token, uint32_t *attr);
lfm2moe_token_attr = _fn("lfm2moe_token_attr", c_int, [model_p, c_int32, u32p])
# int lfm2moe_vocab_get_info(const lfm2moe_model *model, lfm2moe_vocab_info *info);
lfm2moe_vocab_get_info = _fn("lfm2moe_vocab_get_info", c_int, [model_p, P(VocabInfo)])

# int lfm2moe_detokenizer_create(const lfm2moe_model *model, lfm2moe_detokenizer **out);
lfm2moe_detokenizer_create = _fn("lfm2moe_detokenizer_create", c_int, [model_p, P(detok_p)])
# void lfm2moe_detokenizer_free(lfm2moe_detokenizer *detok);
lfm2moe_detokenizer_free = _fn("lfm2moe_detokenizer_free", None, [detok_p])
# int lfm2moe_detokenizer_push(lfm2moe_detokenizer *detok, int32_t token,
#                              const char **piece, size_t *len);
lfm2moe_detokenizer_push = _fn("lfm2moe_detokenizer_push", c_int,
                               [detok_p, c_int32, P(c_void_p), szp])
# int lfm2moe_detokenizer_flush(lfm2moe_detokenizer *detok, const char **piece, size_t *len);
lfm2moe_detokenizer_flush = _fn("lfm2moe_detokenizer_flush", c_int, [detok_p, P(c_void_p), szp])

# int lfm2moe_chat_render(const lfm2moe_model *model, const char *const *roles,
#                         const char *const *contents, size_t n_messages,
#                         const char *const *tools, size_t n_tools, uint32_t flags,
#                         char *buf, size_t buf_size, size_t *len);
lfm2moe_chat_render = _fn("lfm2moe_chat_render", c_int,
                          [model_p, ccpp, ccpp, c_size_t, ccpp, c_size_t, c_uint32,
                           c_void_p, c_size_t, szp])

# int lfm2moe_tool_calls_parse(const char *text, size_t text_len, lfm2moe_tool_calls **out);
lfm2moe_tool_calls_parse = _fn("lfm2moe_tool_calls_parse", c_int,
                               [ccp, c_size_t, P(tool_calls_p)])
# int lfm2moe_tool_calls_count(const lfm2moe_tool_calls *calls, size_t *count);
lfm2moe_tool_calls_count = _fn("lfm2moe_tool_calls_count", c_int, [tool_calls_p, szp])
# int lfm2moe_tool_calls_get(const lfm2moe_tool_calls *calls, size_t index,
#                            const char **name, const char **arguments_json);
lfm2moe_tool_calls_get = _fn("lfm2moe_tool_calls_get", c_int,
                             [tool_calls_p, c_size_t, ccpp, ccpp])
# void lfm2moe_tool_calls_free(lfm2moe_tool_calls *calls);
lfm2moe_tool_calls_free = _fn("lfm2moe_tool_calls_free", None, [tool_calls_p])

# int lfm2moe_sampling_params_init(lfm2moe_sampling_params *params);
lfm2moe_sampling_params_init = _fn("lfm2moe_sampling_params_init", c_int, [P(SamplingParams)])
# int lfm2moe_sampler_create(const lfm2moe_model *model, const lfm2moe_sampling_params *params,
#                            lfm2moe_sampler **out);
lfm2moe_sampler_create = _fn("lfm2moe_sampler_create", c_int,
                             [model_p, P(SamplingParams), P(sampler_p)])
# void lfm2moe_sampler_free(lfm2moe_sampler *sampler);
lfm2moe_sampler_free = _fn("lfm2moe_sampler_free", None, [sampler_p])
# int lfm2moe_sampler_sample(lfm2moe_sampler *sampler, const float *logits, int32_t *token);
lfm2moe_sampler_sample = _fn("lfm2moe_sampler_sample", c_int, [sampler_p, P(c_float), i32p])
# int lfm2moe_sampler_accept(lfm2moe_sampler *sampler, int32_t token);
lfm2moe_sampler_accept = _fn("lfm2moe_sampler_accept", c_int, [sampler_p, c_int32])
# int lfm2moe_sampler_reset(lfm2moe_sampler *sampler);
lfm2moe_sampler_reset = _fn("lfm2moe_sampler_reset", c_int, [sampler_p])

grammar_p = c_void_p
# int lfm2moe_grammar_create(const lfm2moe_model *model, const char *gbnf, size_t len,
#                            const char *root_rule, lfm2moe_grammar **out);
lfm2moe_grammar_create = _fn("lfm2moe_grammar_create", c_int,
                             [model_p, ccp, c_size_t, ccp, P(grammar_p)])
# int lfm2moe_grammar_from_json_schema(const lfm2moe_model *model, const char *schema_json,
#                                      size_t len, lfm2moe_grammar **out);
lfm2moe_grammar_from_json_schema = _fn("lfm2moe_grammar_from_json_schema", c_int,
                                       [model_p, ccp, c_size_t, P(grammar_p)])
# int lfm2moe_grammar_from_tools(const lfm2moe_model *model, const char *const *tools,
#                                size_t n_tools, int tool_choice, lfm2moe_grammar **out);
lfm2moe_grammar_from_tools = _fn("lfm2moe_grammar_from_tools", c_int,
                                 [model_p, ccpp, c_size_t, c_int, P(grammar_p)])
# int lfm2moe_grammar_gbnf(const lfm2moe_grammar *grammar, char *buf, size_t buf_size,
#                          size_t *needed);
lfm2moe_grammar_gbnf = _fn("lfm2moe_grammar_gbnf", c_int, [grammar_p, c_void_p, c_size_t, szp])
# void lfm2moe_grammar_free(lfm2moe_grammar *grammar);
lfm2moe_grammar_free = _fn("lfm2moe_grammar_free", None, [grammar_p])
# int lfm2moe_sampler_set_grammar(lfm2moe_sampler *sampler, const lfm2moe_grammar *grammar);
lfm2moe_sampler_set_grammar = _fn("lfm2moe_sampler_set_grammar", c_int, [sampler_p, grammar_p])
TOOL_CHOICES = {"auto": 0, "required": 1, "none": 2}

# int lfm2moe_generate_params_init(lfm2moe_generate_params *params);
lfm2moe_generate_params_init = _fn("lfm2moe_generate_params_init", c_int, [P(GenerateParams)])
# int lfm2moe_generate(lfm2moe_session *session, const int32_t *prompt, size_t n_prompt,
#                      const lfm2moe_generate_params *params, lfm2moe_generate_result *result);
lfm2moe_generate = _fn("lfm2moe_generate", c_int,
                       [session_p, i32p, c_size_t, P(GenerateParams), P(GenerateResult)])


def version_string():
    return lfm2moe_version_string().decode("utf-8")


def _check_version():
    v = lfm2moe_version()
    major = v // 10000
    if major != VERSION_MAJOR:
        raise ImportError("liblfm2moe %s is loaded but these bindings were written for %d.%d.%d "
                          "(the major version must match)"
                          % (version_string(), VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH))


_check_version()
