#include "cdc/err.h"

const char *cdc_err_class_name(cdc_err_class_t cls)
{
    switch (cls) {
    case CDC_ERR_NONE: return "none";
    case CDC_ERR_RETRIABLE: return "retriable";
    case CDC_ERR_POISON: return "poison";
    case CDC_ERR_FATAL: return "fatal";
    }
    return "unknown";
}
