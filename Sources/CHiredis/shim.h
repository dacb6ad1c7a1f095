#ifndef COUPOND_CHIREDIS_SHIM_H
#define COUPOND_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/read.h>
#endif
