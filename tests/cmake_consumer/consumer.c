/* Loads a model through the installed header and library; prints the version. */
#include <lfm2moe.h>
#include <stdio.h>

int main(int argc, char **argv) {
    lfm2moe_model *model = NULL;
    int st = argc > 1 ? lfm2moe_model_load(argv[1], NULL, &model) : LFM2MOE_ERR_INVALID_ARGUMENT;
    if (st != LFM2MOE_OK) {
        fprintf(stderr, "%s: %s\n", lfm2moe_status_string(st), lfm2moe_last_error());
        return 1;
    }
    printf("liblfm2moe %s (header %d.%d.%d)\n", lfm2moe_version_string(), LFM2MOE_VERSION_MAJOR,
           LFM2MOE_VERSION_MINOR, LFM2MOE_VERSION_PATCH);
    lfm2moe_model_free(model);
    return lfm2moe_version() == LFM2MOE_VERSION_NUMBER ? 0 : 1;
}
