/* stats.h: the one entry of src/stats.c that src/plerl.c calls (from _PG_init). */
#ifndef PLERL_STATS_H
#define PLERL_STATS_H

#include "../handler/plerl_shared.h"

/* Define plerl.stat_track, plerl.stat_max, plerl.log_min_duration; when
 * preloading, ask for shared memory and set settings->stat_record. */
extern void plerl_stats_init(PlerlSettings *settings);

#endif
