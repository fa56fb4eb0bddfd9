/* Public CPU-feature API over kernels/dispatch (detection, tables, the
 * LFM2MOE_MAX_ISA cap read at first use). */
#include "dispatch.h"
#include "base/errors.h"
#include "lfm2moe.h"

LFM2MOE_API int lfm2moe_isa_detected(int *isa) {
    LFM_CHECK_ARG_IN("isa_detected", isa, "isa is NULL");
    *isa = lfm_isa_detected();
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_isa_active(int *isa) {
    LFM_CHECK_ARG_IN("isa_active", isa, "isa is NULL");
    *isa = lfm_isa_active();
    return LFM2MOE_OK;
}

LFM2MOE_API int lfm2moe_isa_set_max(int isa) {
    if (lfm_isa_set_max(isa) < 0)
        return lfm_fail(LFM2MOE_ERR_INVALID_ARGUMENT, "isa_set_max: %d is not an ISA level", isa);
    return LFM2MOE_OK;
}

LFM2MOE_API const char *lfm2moe_isa_name(int isa) {
    const char *n = lfm_isa_name(isa);
    return n ? n : "unknown";
}
