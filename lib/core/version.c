#include "pneumo/common.h"

const char *pneumo_version(void) { return PNEUMO_VERSION_STRING; }

int pneumo_version_number(void) { return PNEUMO_VERSION_NUMBER; }
