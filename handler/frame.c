/*
 * frame.c: the stack of running plerl calls (one frame per entry path, on
 * its C stack), the lazy SPI connection of a call, and what Go may ask of
 * the backend at any time (interrupt flags, the current role, nesting
 * level, this backend's identity) without a guard: none of them raises.
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/backendid.h"
#include "utils/memutils.h"

#include "plerl_int.h"

/* Depth of plerl calls on the stack (Lua -> SQL -> Lua nests). */
int			plerl_call_depth = 0;

/* The innermost running call. */
PlerlFrame *plerl_frame = NULL;

/*
 * Enter and leave a call (around the one cgo call of an entry path). The
 * outermost call starts clean: nothing stashed by an earlier statement may
 * linger. Entering pushes the CONTEXT line naming the call; it stays
 * pushed until plerl_finish, so the error raised there carries it.
 */
void
plerl_enter(PlerlFrame *frame, int32_t flags, TriggerData *trigdata, const char *what)
{
	plerl_state_epoch++;		/* SQL may have run since Go last looked (plerl.h) */
	if (plerl_call_depth == 0)
	{
		plerl_stash_reset();
		plerl_subxact_depth = 0;
	}
	frame->outer = plerl_frame;
	frame->readonly = (flags & PLERL_READONLY) != 0;
	frame->nonatomic = (flags & PLERL_NONATOMIC) != 0;
	frame->spi_connected = false;
	frame->trigdata = trigdata;
	frame->fcinfo = NULL;
	frame->what = what;
	frame->subxact_depth = plerl_subxact_depth;
	frame->errctx.callback = plerl_errcontext;
	frame->errctx.arg = (void *) what;
	frame->errctx.previous = error_context_stack;
	error_context_stack = &frame->errctx;
	plerl_frame = frame;
	plerl_call_depth++;
}

/*
 * Leave a call after Go returned. Finishes SPI if the call connected it,
 * except after an uncatchable error: then the transaction is in no state
 * for more work, and the abort that follows the re-raise cleans SPI up.
 * Checks the invariants Go must keep: frames leave in order, and every
 * pcall subtransaction Go began has ended (unless an error is stashed,
 * whose abort ends them).
 */
void
plerl_leave(PlerlFrame *frame)
{
	if (unlikely(plerl_frame != frame))
		elog(FATAL, "plerl: call frames left out of order");
	plerl_call_depth--;
	plerl_frame = frame->outer;
	if (unlikely(plerl_subxact_depth != frame->subxact_depth && !plerl_has_stash()))
		elog(ERROR, "plerl: a call left %d subtransactions open",
			 plerl_subxact_depth - frame->subxact_depth);
	if (frame->spi_connected && !plerl_has_stash())
	{
		frame->spi_connected = false;
		SPI_finish();
	}
}

/*
 * After plerl_leave and the entry path's cleanup: raise Go's error, a
 * stash, or a pending interrupt, under the call's CONTEXT line.
 */
void
plerl_finish(PlerlFrame *frame, PlerlError *err)
{
	if (unlikely(err->kind != PLERL_OK || plerl_has_stash()))
		plerl_raise(err);
	CHECK_FOR_INTERRUPTS();
}

/* The entry path is done with the call (its result converted): pop its CONTEXT line. */
void
plerl_done(PlerlFrame *frame)
{
	error_context_stack = frame->errctx.previous;
}

/*
 * Connect SPI for the innermost call if it has not yet (a guard: Go calls
 * it before a pcall subtransaction starts, so the connection belongs to
 * the call and not to a subtransaction; the SPI guards call it first).
 * nonatomic calls (CALL, DO outside a transaction block) connect
 * non-atomic so that spi.commit() can work; a trigger registers its
 * transition tables.
 */
int
plerl_spi_connect(PlerlError *err)
{
	PlerlFrame *f = plerl_frame;

	PLERL_GUARD_ENTER(err);
	if (f == NULL)
	{
		plerl_error_set(err, ERRCODE_INTERNAL_ERROR, "plerl: SPI used outside of a function call");
		return -1;
	}
	if (f->spi_connected)
		return 0;
	PG_TRY();
	{
		int			r = SPI_connect_ext(f->nonatomic ? SPI_OPT_NONATOMIC : 0);

		if (r != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(r));
		f->spi_connected = true;
		if (f->trigdata && (f->trigdata->tg_oldtable || f->trigdata->tg_newtable))
		{
			r = SPI_register_trigger_data(f->trigdata);
			if (r < 0)
				elog(ERROR, "SPI_register_trigger_data failed: %s", SPI_result_code_string(r));
		}
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* Read by the Go poller goroutine on another thread: plain flag reads only. */
int
plerl_interrupt_pending(void)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

uint32_t
plerl_current_user(void)
{
	return (uint32_t) GetUserId();
}

/* ---- deferred sends: checked before COMMIT, sent after, dropped on abort ---- */

int
plerl_nest_level(void)
{
	return GetCurrentTransactionNestLevel();
}

/* Identity of this backend's node name (bounded: never the pid). */
int
plerl_backend_slot(void)
{
	return MyBackendId;
}

int
plerl_cluster_port(void)
{
	return PostPortNumber;
}
