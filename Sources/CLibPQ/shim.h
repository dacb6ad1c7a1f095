#ifndef COUPOND_CLIBPQ_SHIM_H
#define COUPOND_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
