/* plerl_shared.h: what plerl.so (the C loader) and plerl_go.so share. */
#ifndef PLERL_SHARED_H
#define PLERL_SHARED_H

/* Entry points that plerl.so forwards to plerl_go.so's dispatcher. */
typedef enum PlerlEntry
{
	PLERL_ENTRY_CALL = 1,		/* plerl_call_handler / plerlu_call_handler */
	PLERL_ENTRY_INLINE,			/* DO blocks */
	PLERL_ENTRY_VALIDATOR,
	PLERL_ENTRY_CALL_U,
	PLERL_ENTRY_INLINE_U,
	PLERL_ENTRY_VALIDATOR_U,
	PLERL_ENTRY_ERLANG = 100	/* erlang_* SQL functions: 100 + PlerlErlangFn */
} PlerlEntry;

/* Settings, defined as GUCs by plerl.so and read by plerl_go.so. */
typedef struct PlerlSettings
{
	int			call_timeout_ms;
	int			connect_timeout_ms;
	int			max_message_kb;
	int			max_connections;
	int			max_atoms;
	int			lua_memory_limit_kb;
	int			lua_time_limit_ms;
	int			tick_time_s;
	int			go_max_procs;
	char	   *node_prefix;
	char	   *node_host;
	char	   *null_atom;
} PlerlSettings;

typedef Datum (*PlerlDispatchFn) (int entry, FunctionCallInfo fcinfo);
typedef void (*PlerlBindFn) (const PlerlSettings *settings);

#endif
