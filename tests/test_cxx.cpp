// The public header compiles as C++ and its functions link from C++.
#include "lfm2moe.h"

#include <cstdio>

int main() {
    lfm2moe_model_params params;
    if (lfm2moe_model_params_init(&params) != LFM2MOE_OK)
        return 1;
    lfm2moe_model *model = nullptr;
    int st = lfm2moe_model_load("/nonexistent.gguf", &params, &model);
    std::printf("%s: %s\n", lfm2moe_status_string(st), lfm2moe_last_error());
    lfm2moe_model_free(model);
    return st == LFM2MOE_ERR_IO && lfm2moe_version() == LFM2MOE_VERSION_NUMBER ? 0 : 1;
}
