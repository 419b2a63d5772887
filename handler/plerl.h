/*
 * plerl.h: the C side of plerl_go.so as Go sees it. No PostgreSQL types
 * appear here, so Go code can include it; the C files include postgres.h
 * first and then this header.
 */
#ifndef PLERL_H
#define PLERL_H

#include <stdint.h>
#include <stddef.h>

/*
 * Value kinds crossing the boundary (one scalar or a tree of them).
 *
 * Ownership. C->Go values (arguments, rows) live in palloc'd memory that is
 * valid during the Go call; Go copies what it keeps. A Go->C value (a result)
 * owns exactly one malloc'd block, its p: a string, or for PLV_ARRAY and
 * PLV_RECORD the whole tree (header, children and their strings) in one
 * block. plerl_value_free() frees that block; children are never freed alone.
 */
enum
{
	PLV_NULL = 0,
	PLV_BOOL,					/* i */
	PLV_INT,					/* i: int2, int4, int8 */
	PLV_FLOAT,					/* f: float4, float8 */
	PLV_TEXT,					/* p, len: text, varchar, bpchar, any text I/O */
	PLV_BYTES,					/* p, len: bytea */
	PLV_NUMERIC,				/* p, len: numeric's text form (exact digits, NaN, Infinity) */
	PLV_JSON,					/* p, len: json or jsonb text */
	PLV_ARRAY,					/* p: PlerlArray, len: number of elements */
	PLV_RECORD,					/* p: PlerlRecord, len: number of fields */
};

/* Type kinds, chosen once per function for each argument and the result. */
enum
{
	PLT_VOID = 0,
	PLT_BOOL,
	PLT_INT2,
	PLT_INT4,
	PLT_INT8,
	PLT_FLOAT4,
	PLT_FLOAT8,
	PLT_NUMERIC,
	PLT_TEXT,
	PLT_BYTEA,
	PLT_JSON,
	PLT_JSONB,
	PLT_OTHER,					/* through the type's text I/O */
	PLT_RECORD,					/* composite or record: PlerlTypeInfo.nfields/names/fields */
	PLT_ARRAY,					/* PlerlTypeInfo.elem */
	PLT_POLY,					/* C only: polymorphic, resolved per call */
};

typedef struct PlerlValue
{
	int32_t		kind;
	int32_t		flags;
	int64_t		i;
	double		f;
	char	   *p;				/* see "Ownership" above; strings are NUL-terminated */
	int64_t		len;
} PlerlValue;

/* PostgreSQL's MAXDIM. */
#define PLERL_MAXDIM 6

/* PLV_ARRAY: an array of any dimension; ndims 0 is the empty array. */
typedef struct PlerlArray
{
	int32_t		ndims;
	int32_t		dims[PLERL_MAXDIM];
	int32_t		lbounds[PLERL_MAXDIM];
	PlerlValue *elems;			/* value.len elements, row-major; NULLs are PLV_NULL */
} PlerlArray;

/*
 * PLV_RECORD: a row. C->Go: the live (not dropped) fields with their names.
 * Go->C: names is NULL and fields follow the result type's PlerlTypeInfo.
 */
typedef struct PlerlRecord
{
	const char *const *names;
	PlerlValue *fields;			/* value.len fields */
} PlerlRecord;

/*
 * What Go needs to know about a result type (embedded in C's PlerlType; C
 * keeps it current for the duration of a call). Read-only for Go.
 */
typedef struct PlerlTypeInfo
{
	int32_t		kind;			/* PLT_* (never PLT_POLY) */
	int32_t		nfields;		/* PLT_RECORD: live fields */
	const char *const *names;	/* PLT_RECORD: their names */
	const struct PlerlTypeInfo *const *fields;	/* PLT_RECORD: their types */
	const struct PlerlTypeInfo *elem;	/* PLT_ARRAY: element type */
	const char *name;			/* the type's SQL name, for messages */
} PlerlTypeInfo;

/* Error record filled by Go (strings malloc'd) or by a C guard. */
enum
{
	PLERL_OK = 0,
	PLERL_ERR = 1,				/* sqlstate/message/detail/hint/context are set */
	PLERL_ERR_RETHROW = 2,		/* re-raise the PostgreSQL error a guard stashed */
	PLERL_ERR_CANCEL = 3,		/* Lua was cancelled: let CHECK_FOR_INTERRUPTS raise, else message */
};

typedef struct PlerlError
{
	int32_t		kind;
	char		sqlstate[6];
	char	   *message;
	char	   *detail;
	char	   *hint;
	char	   *context;
} PlerlError;

/* Flags of a call. */
enum
{
	PLERL_TRUSTED = 1,
	PLERL_RETSET = 2,
	PLERL_NONATOMIC = 4,
	PLERL_READONLY = 8,
	PLERL_VALIDATE_ONLY = 16,
	PLERL_TRIGGER = 32,
	PLERL_EVENT_TRIGGER = 64,
};

typedef struct PlerlCall
{
	int64_t		fn_id;
	uint32_t	user_id;
	int32_t		flags;
	int32_t		nargs;
	int32_t		ret_kind;		/* PLT_* of the result */
	const PlerlTypeInfo *ret_type;	/* the result's type; NULL: ret_kind is a scalar kind */
	PlerlValue *args;
	PlerlValue	ret;
	PlerlError	err;
	void	   *pg;				/* opaque C state for SRF/trigger guards */
} PlerlCall;

typedef struct PlerlCompile
{
	const char *src;
	int64_t		srclen;
	const char *name;			/* function name, for messages */
	int32_t		nargs;
	int32_t		flags;
	const char **argnames;		/* NULL entries for unnamed arguments */
	int64_t		fn_id;			/* out */
	PlerlError	err;			/* out */
} PlerlCompile;

/* Guards Go may call (guard.c). Each returns 0 or fills err and returns -1. */
extern int	plerl_interrupt_pending(void);
extern int	plerl_elog(int level, const char *msg, const char *detail, const char *hint, PlerlError *err);
extern int	plerl_subxact_begin(PlerlError *err);
extern int	plerl_subxact_commit(PlerlError *err);
extern int	plerl_subxact_abort(PlerlError *err);
extern void plerl_error_free(PlerlError *err);
extern uint32_t plerl_current_user(void);

/* elog levels Go passes to plerl_elog. */
enum
{
	PLERL_DEBUG = 1,
	PLERL_LOG,
	PLERL_INFO,
	PLERL_NOTICE,
	PLERL_WARNING,
};

/* ---- Erlang bridge (erlang.c <-> erlang.go) ---- */

enum
{
	PLERL_ERL_CONNECT = 0,
	PLERL_ERL_CALL = 1,
	PLERL_ERL_DISCONNECT = 2,
	PLERL_ERL_SEND = 3,
	PLERL_ERL_PING = 4,
	PLERL_ERL_CONNECTIONS = 5,
	PLERL_ERL_CAST = 7,
};

/* Where a call goes, resolved by C from a server name or a raw node name. */
typedef struct PlerlErlTarget
{
	char	   *node;			/* e.g. app@127.0.0.1 */
	char	   *cookie;			/* from the user mapping; NULL for a raw node (session cookie) */
	char	   *server;			/* foreign server name; NULL for a raw node */
	int32_t		tls;			/* server option tls 'on' */
	char	   *tls_ca;
	char	   *tls_cert;
	char	   *tls_key;
	char	   *tls_server_name;

	/*
	 * What plerl.allow permitted, for a request through a server (all zero
	 * for a raw node, where no allow-list applies). module and function are
	 * the names exactly as checked: Go sends these, never its own copies.
	 * atoms lists what the request's terms may carry beyond true, false and
	 * the null atom (the union of the atoms columns of the rows that permit
	 * it); any_atom: a row said '*'. any_function: only rows with a NULL
	 * function permit the call, so its name may be new to the node.
	 */
	char	   *module;
	char	   *function;
	char	  **atoms;
	int32_t		natoms;
	int32_t		any_atom;
	int32_t		any_function;
} PlerlErlTarget;

typedef struct PlerlErlReq
{
	int32_t		op;				/* PLERL_ERL_* */
	int32_t		timeout_ms;		/* < 0: plerl.call_timeout */
	PlerlErlTarget target;
	const char *module;			/* CALL */
	const char *function;		/* CALL */
	const char *name;			/* SEND/CAST: registered name; CONNECT: cookie */
	const char *json;			/* CALL: args (a JSON array); SEND/CAST: the message */
	int64_t		jsonlen;
	PlerlValue	result;			/* CALL: PLV_JSON (malloc'd); others: PLV_BOOL */
	PlerlError	err;
} PlerlErlReq;

typedef struct PlerlConnRow
{
	char	   *node;
	char	   *state;
	char	   *last_error;
	int64_t		since_unix_us;
	int64_t		calls;
	int64_t		errors;
	double		last_rtt_ms;
} PlerlConnRow;

/* Guard for Lua: resolve target and check privileges and the allow-list. */
extern int	plerl_erl_resolve_guarded(const char *target, const char *module, const char *function,
									  int arity, int lua_op, PlerlErlTarget *out, PlerlError *err);

#endif
