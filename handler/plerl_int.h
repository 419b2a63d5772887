/* plerl_int.h: declarations shared by plerl_go.so's C files (PG types allowed). */
#ifndef PLERL_INT_H
#define PLERL_INT_H

#include "fmgr.h"
#include "plerl.h"

extern int	plerl_subxact_depth;
extern void plerl_capture(PlerlError *err);
extern bool plerl_refuse_if_stashed(PlerlError *err);
extern bool plerl_has_stash(void);
extern void plerl_rethrow_stash(void);
extern void plerl_stash_reset(void);
extern void plerl_error_set(PlerlError *err, int sqlerrcode, const char *msg);
extern void plerl_raise(PlerlError *err);

#endif
