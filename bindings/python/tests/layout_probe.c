/* Prints sizeof and offsetof of every public struct as JSON, so the Python
 * tests can check the ctypes mirrors in lfm2moe/_native.py against the real
 * header.  Field lists follow _native.STRUCTS (sizeof catches a missing field). */
#include <stddef.h>
#include <stdio.h>

#include "lfm2moe.h"

#define F(s, f) printf("%s\"%s\": %zu", first ? "" : ", ", #f, offsetof(s, f)), first = 0

int main(void) {
    int first;
    printf("{");
    printf("\"lfm2moe_model_params\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_model_params));
    first = 1;
    F(lfm2moe_model_params, struct_size);
    F(lfm2moe_model_params, flags);
    F(lfm2moe_model_params, reserved);
    printf("}}");
    printf(", \"lfm2moe_model_info\": {\"sizeof\": %zu, \"fields\": {", sizeof(lfm2moe_model_info));
    first = 1;
    F(lfm2moe_model_info, struct_size);
    F(lfm2moe_model_info, n_vocab);
    F(lfm2moe_model_info, n_embd);
    F(lfm2moe_model_info, n_block);
    F(lfm2moe_model_info, n_ctx_train);
    F(lfm2moe_model_info, n_head);
    F(lfm2moe_model_info, n_head_kv);
    F(lfm2moe_model_info, head_dim);
    F(lfm2moe_model_info, n_ff);
    F(lfm2moe_model_info, n_expert);
    F(lfm2moe_model_info, n_expert_used);
    F(lfm2moe_model_info, n_ff_expert);
    F(lfm2moe_model_info, n_dense_block);
    F(lfm2moe_model_info, conv_l_cache);
    F(lfm2moe_model_info, n_attention_block);
    F(lfm2moe_model_info, rope_freq_base);
    F(lfm2moe_model_info, rms_norm_eps);
    F(lfm2moe_model_info, n_params);
    F(lfm2moe_model_info, file_size);
    F(lfm2moe_model_info, n_tensors);
    F(lfm2moe_model_info, reserved);
    printf("}}");
    printf(", \"lfm2moe_tensor_info\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_tensor_info));
    first = 1;
    F(lfm2moe_tensor_info, struct_size);
    F(lfm2moe_tensor_info, type);
    F(lfm2moe_tensor_info, name);
    F(lfm2moe_tensor_info, type_name);
    F(lfm2moe_tensor_info, n_dims);
    F(lfm2moe_tensor_info, ne);
    F(lfm2moe_tensor_info, offset);
    F(lfm2moe_tensor_info, size);
    F(lfm2moe_tensor_info, reserved);
    printf("}}");
    printf(", \"lfm2moe_session_params\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_session_params));
    first = 1;
    F(lfm2moe_session_params, struct_size);
    F(lfm2moe_session_params, n_ctx);
    F(lfm2moe_session_params, n_threads);
    F(lfm2moe_session_params, n_batch);
    F(lfm2moe_session_params, max_memory);
    F(lfm2moe_session_params, kv_type);
    F(lfm2moe_session_params, checkpoint_interval);
    F(lfm2moe_session_params, reserved);
    printf("}}");
    printf(", \"lfm2moe_vocab_info\": {\"sizeof\": %zu, \"fields\": {", sizeof(lfm2moe_vocab_info));
    first = 1;
    F(lfm2moe_vocab_info, struct_size);
    F(lfm2moe_vocab_info, n_vocab);
    F(lfm2moe_vocab_info, bos);
    F(lfm2moe_vocab_info, eos);
    F(lfm2moe_vocab_info, pad);
    F(lfm2moe_vocab_info, end_of_turn);
    F(lfm2moe_vocab_info, add_bos);
    F(lfm2moe_vocab_info, reserved);
    printf("}}");
    printf(", \"lfm2moe_sampling_params\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_sampling_params));
    first = 1;
    F(lfm2moe_sampling_params, struct_size);
    F(lfm2moe_sampling_params, temperature);
    F(lfm2moe_sampling_params, top_k);
    F(lfm2moe_sampling_params, top_p);
    F(lfm2moe_sampling_params, min_p);
    F(lfm2moe_sampling_params, repeat_penalty);
    F(lfm2moe_sampling_params, frequency_penalty);
    F(lfm2moe_sampling_params, presence_penalty);
    F(lfm2moe_sampling_params, penalty_last_n);
    F(lfm2moe_sampling_params, seed);
    F(lfm2moe_sampling_params, logit_bias_tokens);
    F(lfm2moe_sampling_params, logit_bias_values);
    F(lfm2moe_sampling_params, n_logit_bias);
    F(lfm2moe_sampling_params, grammar);
    F(lfm2moe_sampling_params, reserved);
    printf("}}");
    printf(", \"lfm2moe_generate_params\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_generate_params));
    first = 1;
    F(lfm2moe_generate_params, struct_size);
    F(lfm2moe_generate_params, max_tokens);
    F(lfm2moe_generate_params, sampling);
    F(lfm2moe_generate_params, stop_strings);
    F(lfm2moe_generate_params, n_stop_strings);
    F(lfm2moe_generate_params, callback);
    F(lfm2moe_generate_params, user_data);
    F(lfm2moe_generate_params, flags);
    F(lfm2moe_generate_params, reasoning_budget);
    F(lfm2moe_generate_params, part_callback);
    F(lfm2moe_generate_params, reserved);
    printf("}}");
    printf(", \"lfm2moe_generate_result\": {\"sizeof\": %zu, \"fields\": {",
           sizeof(lfm2moe_generate_result));
    first = 1;
    F(lfm2moe_generate_result, struct_size);
    F(lfm2moe_generate_result, stop_reason);
    F(lfm2moe_generate_result, n_prompt_tokens);
    F(lfm2moe_generate_result, n_generated);
    F(lfm2moe_generate_result, prompt_seconds);
    F(lfm2moe_generate_result, generate_seconds);
    F(lfm2moe_generate_result, n_prompt_reused);
    F(lfm2moe_generate_result, n_reasoning);
    F(lfm2moe_generate_result, reserved);
    printf("}}");
    printf("}\n");
    return 0;
}
