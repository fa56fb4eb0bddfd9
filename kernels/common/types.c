#include "lfm_types.h"

#include <stddef.h>

/* Block layouts of every type id the GGUF format defines (ggml.h order).
 * Ids 4, 5, 31-33 and 36-38 were removed from the format and stay unknown. */
static const lfm_type_layout layouts[LFM_TYPE_COUNT] = {
    [LFM_TYPE_F32] = {"F32", 1, 4},
    [LFM_TYPE_F16] = {"F16", 1, 2},
    [LFM_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [LFM_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [LFM_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [LFM_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [LFM_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [LFM_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [LFM_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [LFM_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [LFM_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [LFM_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [LFM_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [LFM_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [LFM_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [LFM_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [LFM_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [LFM_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [LFM_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [LFM_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [LFM_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [LFM_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [LFM_TYPE_I8] = {"I8", 1, 1},
    [LFM_TYPE_I16] = {"I16", 1, 2},
    [LFM_TYPE_I32] = {"I32", 1, 4},
    [LFM_TYPE_I64] = {"I64", 1, 8},
    [LFM_TYPE_F64] = {"F64", 1, 8},
    [LFM_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [LFM_TYPE_BF16] = {"BF16", 1, 2},
    [LFM_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [LFM_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [LFM_TYPE_MXFP4] = {"MXFP4", 32, 17},
};

/* The R16 ids: the bytes of their element type, in another order. */
static const lfm_type_layout r16_layouts[] = {
    [LFM_TYPE_Q4_0] = {"Q4_0_R16", 32, 18}, [LFM_TYPE_Q8_0] = {"Q8_0_R16", 32, 34},
    [LFM_TYPE_Q4_K] = {"Q4_K_R16", 256, 144}, [LFM_TYPE_Q5_K] = {"Q5_K_R16", 256, 176},
    [LFM_TYPE_Q6_K] = {"Q6_K_R16", 256, 210}};

const lfm_type_layout *lfm_type_layout_get(uint32_t type) {
    if (lfm_type_is_r16(type)) return &r16_layouts[type & ~(uint32_t)LFM_TYPE_R16_FLAG];
    if (type >= LFM_TYPE_COUNT || layouts[type].name == NULL) return NULL;
    return &layouts[type];
}

const char *lfm_type_name(uint32_t type) {
    const lfm_type_layout *l = lfm_type_layout_get(type);
    return l ? l->name : "unknown";
}
