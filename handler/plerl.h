/*
 * plerl.h: the C side of plerl_go.so as Go sees it. No PostgreSQL types
 * appear here, so Go code can include it; the C files include postgres.h
 * first and then this header.
 */
#ifndef PLERL_H
#define PLERL_H

#include <stdint.h>
#include <stddef.h>

/* Value kinds crossing the boundary (one scalar or a tree of them). */
enum
{
	PLV_NULL = 0,
	PLV_BOOL,					/* i */
	PLV_INT,					/* i: int2, int4, int8 */
	PLV_FLOAT,					/* f: float4, float8 */
	PLV_TEXT,					/* p, len: text, varchar, bpchar, name, any text I/O */
	PLV_BYTES,					/* p, len: bytea */
	PLV_NUMERIC,				/* p, len: numeric's text form (exact digits, NaN, Infinity) */
	PLV_JSON,					/* p, len: json or jsonb text */
	PLV_ARRAY,					/* p: PlerlValue[len] elements (row-major), dims in i (packed), see plerl_array_dims */
	PLV_RECORD,					/* p: PlerlValue[len] fields, names in the type */
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
	PLT_RECORD,
	PLT_ARRAY,
};

typedef struct PlerlValue
{
	int32_t		kind;
	int32_t		flags;
	int64_t		i;
	double		f;
	char	   *p;				/* C->Go: valid during the call. Go->C: malloc'd, NUL-terminated, C frees */
	int64_t		len;
} PlerlValue;

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

#endif
