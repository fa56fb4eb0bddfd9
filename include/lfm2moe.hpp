/*
 * lfm2moe.hpp: a thin header-only C++17 wrapper over the C API of
 * lfm2moe.h.  RAII owners for the handles (move-only), std::string /
 * std::vector in and out, and an exception (lfm2moe::error, carrying the
 * status code and lfm2moe_last_error()) for every failing call.  The C
 * functions stay available: get() returns the raw handle.
 *
 *   lfm2moe::model model("model.gguf");
 *   lfm2moe::session session(model);
 *   std::string prompt = model.apply_chat_template({{"user", "Hi"}});
 *   auto result = session.generate(model.tokenize(prompt, false, true), {},
 *                                  [](std::string_view piece, int32_t) {
 *                                      std::cout << piece << std::flush;
 *                                      return true;  // false stops
 *                                  });
 *
 * Thread-safety is the C API's: a model may be shared by any number of
 * sessions on any threads; a session or sampler is used by one thread at a
 * time (session::cancel excepted).  A model must outlive its sessions and
 * samplers.
 */
#ifndef LFM2MOE_HPP
#define LFM2MOE_HPP

#include "lfm2moe.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lfm2moe {

/* A failed library call: status() is the lfm2moe_status code, what() reads
 * "<status name>: <lfm2moe_last_error()>". */
class error : public std::runtime_error {
  public:
    error(int status, const std::string &message)
        : std::runtime_error(std::string(lfm2moe_status_string(status)) +
                             (message.empty() ? "" : ": " + message)),
          status_(status), message_(message) {}
    int status() const noexcept { return status_; }
    /* lfm2moe_last_error() at the time of the failure. */
    const std::string &message() const noexcept { return message_; }

  private:
    int status_;
    std::string message_;
};

namespace detail {
inline void check(int status) {
    if (status != LFM2MOE_OK)
        throw error(status, lfm2moe_last_error());
}

/* Move-only owner of a C handle freed by Free (which accepts NULL). */
template <typename T, void (*Free)(T *)> class handle {
  public:
    handle() noexcept = default;
    explicit handle(T *p) noexcept : p_(p) {}
    handle(handle &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    handle &operator=(handle &&o) noexcept {
        if (this != &o)
            reset(std::exchange(o.p_, nullptr));
        return *this;
    }
    handle(const handle &) = delete;
    handle &operator=(const handle &) = delete;
    ~handle() { Free(p_); }
    T *get() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }
    void reset(T *p = nullptr) noexcept { Free(std::exchange(p_, p)); }

  protected:
    T *checked() const {
        if (!p_)
            throw error(LFM2MOE_ERR_INVALID_ARGUMENT, "use of an empty (moved-from) handle");
        return p_;
    }

  private:
    T *p_ = nullptr;
};

/* The C API's "call, and on BUFFER_TOO_SMALL retry with the stored size". */
template <typename Call> std::string grow(Call &&call, size_t first) {
    std::string buf(first ? first : 1, '\0');
    for (int attempt = 0; attempt < 3; attempt++) {
        size_t needed = 0;
        int st = call(&buf[0], buf.size(), &needed);
        if (st == LFM2MOE_OK) {
            buf.resize(needed);
            return buf;
        }
        if (st != LFM2MOE_ERR_BUFFER_TOO_SMALL)
            check(st);
        buf.assign(needed + 1, '\0'); /* + 1: some calls NUL-terminate */
    }
    throw error(LFM2MOE_ERR_INTERNAL, "buffer size kept changing");
}
} // namespace detail

inline std::string version() { return lfm2moe_version_string(); }

/* One chat message for model::apply_chat_template. */
struct message {
    std::string role; /* "system", "user", "assistant", "tool" */
    std::string content;
};

/* A loaded GGUF model (lfm2moe_model_load).  Immutable; share it freely. */
class model : public detail::handle<lfm2moe_model, lfm2moe_model_free> {
  public:
    model() noexcept = default;
    explicit model(const std::string &path, uint32_t flags = 0) {
        lfm2moe_model_params params;
        detail::check(lfm2moe_model_params_init(&params));
        params.flags = flags; /* LFM2MOE_MODEL_PREFETCH | LFM2MOE_MODEL_MLOCK */
        lfm2moe_model *m = nullptr;
        detail::check(lfm2moe_model_load(path.c_str(), &params, &m));
        reset(m);
    }

    lfm2moe_model_info info() const {
        lfm2moe_model_info i{};
        i.struct_size = sizeof i;
        detail::check(lfm2moe_model_get_info(checked(), &i));
        return i;
    }
    lfm2moe_vocab_info vocab() const {
        lfm2moe_vocab_info v{};
        v.struct_size = sizeof v;
        detail::check(lfm2moe_vocab_get_info(checked(), &v));
        return v;
    }
    std::string architecture() const {
        const char *name = nullptr;
        detail::check(lfm2moe_model_architecture(checked(), &name));
        return name;
    }
    /* A metadata value as text; throws error(NOT_FOUND) if absent. */
    std::string metadata(const std::string &key) const {
        const lfm2moe_model *m = checked();
        return detail::grow([&](char *buf, size_t size, size_t *needed) {
            return lfm2moe_model_meta_string(m, key.c_str(), buf, size, needed);
        }, 256);
    }

    std::vector<int32_t> tokenize(std::string_view text, bool add_bos = true,
                                  bool parse_special = false) const {
        uint32_t flags = (add_bos ? uint32_t(LFM2MOE_TOKENIZE_ADD_BOS) : 0u) |
                         (parse_special ? uint32_t(LFM2MOE_TOKENIZE_PARSE_SPECIAL) : 0u);
        std::vector<int32_t> out(text.size() + 2); /* at most one token per byte, + BOS */
        size_t n = 0;
        int st = lfm2moe_tokenize(checked(), text.data(), text.size(), flags, out.data(),
                                  out.size(), &n);
        if (st == LFM2MOE_ERR_BUFFER_TOO_SMALL) {
            out.resize(n);
            st = lfm2moe_tokenize(checked(), text.data(), text.size(), flags, out.data(),
                                  out.size(), &n);
        }
        detail::check(st);
        out.resize(n);
        return out;
    }
    std::string detokenize(const std::vector<int32_t> &tokens) const {
        const lfm2moe_model *m = checked();
        return detail::grow([&](char *buf, size_t size, size_t *len) {
            return lfm2moe_detokenize(m, tokens.data(), tokens.size(), buf, size, len);
        }, 8 * tokens.size() + 16);
    }
    std::string token_to_bytes(int32_t token) const {
        const lfm2moe_model *m = checked();
        return detail::grow([&](char *buf, size_t size, size_t *len) {
            return lfm2moe_token_to_bytes(m, token, buf, size, len);
        }, 64);
    }
    int32_t token_lookup(std::string_view text) const {
        int32_t token = -1;
        detail::check(lfm2moe_token_lookup(checked(), text.data(), text.size(), &token));
        return token;
    }

    /* Render messages with the model's chat template (tools: JSON texts). */
    std::string apply_chat_template(const std::vector<message> &messages,
                                    const std::vector<std::string> &tools = {},
                                    bool add_generation_prompt = true) const {
        std::vector<const char *> roles, contents, tool_texts;
        size_t size = 256;
        for (const message &m : messages) {
            roles.push_back(m.role.c_str());
            contents.push_back(m.content.c_str());
            size += m.content.size() + 64;
        }
        for (const std::string &t : tools) {
            tool_texts.push_back(t.c_str());
            size += t.size() + 64;
        }
        const lfm2moe_model *m = checked();
        uint32_t flags = add_generation_prompt ? uint32_t(LFM2MOE_CHAT_ADD_GENERATION_PROMPT) : 0u;
        return detail::grow([&](char *buf, size_t sz, size_t *len) {
            return lfm2moe_chat_render(m, roles.data(), contents.data(), roles.size(),
                                       tool_texts.data(), tool_texts.size(), flags, buf, sz, len);
        }, size);
    }
};

/* Sampling settings: starts from the library defaults (lfm2moe_sampling_params_init). */
struct sampling_params : lfm2moe_sampling_params {
    sampling_params() : lfm2moe_sampling_params() {
        detail::check(lfm2moe_sampling_params_init(this));
    }
};

/* A token sampler (lfm2moe_sampler_create) over a model's vocabulary. */
class sampler : public detail::handle<lfm2moe_sampler, lfm2moe_sampler_free> {
  public:
    sampler() noexcept = default;
    explicit sampler(const model &m, const sampling_params &params = sampling_params()) {
        lfm2moe_sampler *s = nullptr;
        detail::check(lfm2moe_sampler_create(m.get(), &params, &s));
        reset(s);
    }
    /* Sample from n_vocab logits (does not accept the token). */
    int32_t sample(const float *logits) {
        int32_t token = -1;
        detail::check(lfm2moe_sampler_sample(checked(), logits, &token));
        return token;
    }
    void accept(int32_t token) { detail::check(lfm2moe_sampler_accept(checked(), token)); }
    void clear() { detail::check(lfm2moe_sampler_reset(checked())); }
};

/* Settings of session::generate (lfm2moe_generate_params without the
 * callback, which generate takes as a lambda). */
struct generate_options {
    int32_t max_tokens = 256;
    sampling_params sampling;
    std::vector<std::string> stop;
};

/* Called with each piece of generated text and the token that ended it;
 * return false to stop (stop_reason CALLBACK). */
using piece_callback = std::function<bool(std::string_view piece, int32_t token)>;

/* A conversation state (lfm2moe_session_create) on a model. */
class session : public detail::handle<lfm2moe_session, lfm2moe_session_free> {
  public:
    session() noexcept = default;
    /* n_ctx, n_threads, n_batch: 0 = the library's defaults. */
    explicit session(const model &m, int32_t n_ctx = 0, int32_t n_threads = 0,
                     int32_t n_batch = 0) {
        lfm2moe_session_params params;
        detail::check(lfm2moe_session_params_init(&params));
        params.n_ctx = n_ctx;
        params.n_threads = n_threads;
        params.n_batch = n_batch;
        lfm2moe_session *s = nullptr;
        detail::check(lfm2moe_session_create(m.get(), &params, &s));
        reset(s);
    }

    void clear() { detail::check(lfm2moe_session_reset(checked())); }
    /* Safe from any thread while another one decodes or generates. */
    void cancel() { detail::check(lfm2moe_session_cancel(checked())); }
    int32_t position() const {
        int32_t pos = 0;
        detail::check(lfm2moe_session_position(checked(), &pos));
        return pos;
    }
    int32_t context_length() const {
        int32_t n = 0;
        detail::check(lfm2moe_session_context_length(checked(), &n));
        return n;
    }
    void decode(const std::vector<int32_t> &tokens, uint32_t flags = 0) {
        detail::check(lfm2moe_decode_step(checked(), tokens.data(),
                                          static_cast<int32_t>(tokens.size()), flags));
    }
    /* n_vocab logits of token `index` of the last decode (-1: the last), the
     * session's own buffer: valid until the next decode, reset or free. */
    const float *logits(int32_t index = -1) const {
        const float *out = nullptr;
        detail::check(lfm2moe_session_logits(checked(), index, &out));
        return out;
    }

    /* lfm2moe_generate: append the prompt, generate, stream to on_piece.
     * An exception thrown by on_piece stops the generation and is rethrown. */
    lfm2moe_generate_result generate(const std::vector<int32_t> &prompt,
                                     const generate_options &options = {},
                                     const piece_callback &on_piece = {}) {
        lfm2moe_generate_params params;
        detail::check(lfm2moe_generate_params_init(&params));
        params.max_tokens = options.max_tokens;
        params.sampling = options.sampling;
        std::vector<const char *> stops;
        for (const std::string &s : options.stop)
            stops.push_back(s.c_str());
        params.stop_strings = stops.data();
        params.n_stop_strings = stops.size();
        struct context {
            const piece_callback *fn;
            std::exception_ptr thrown;
        } ctx{&on_piece, nullptr};
        if (on_piece) {
            params.callback = [](void *user, const char *piece, size_t len, int32_t token) -> int {
                context *c = static_cast<context *>(user);
                try {
                    return (*c->fn)(std::string_view(piece, len), token) ? 0 : 1;
                } catch (...) {
                    /* never unwind through C: keep it for after the call */
                    c->thrown = std::current_exception();
                    return 1;
                }
            };
            params.user_data = &ctx;
        }
        lfm2moe_generate_result result{};
        result.struct_size = sizeof result;
        int st = lfm2moe_generate(checked(), prompt.data(), prompt.size(), &params, &result);
        if (ctx.thrown)
            std::rethrow_exception(ctx.thrown);
        detail::check(st);
        return result;
    }
};

} // namespace lfm2moe

#endif /* LFM2MOE_HPP */
