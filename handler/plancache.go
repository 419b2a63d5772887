package main

/*
#include "plerl.h"
*/
import "C"

import (
	"container/list"
	"strings"
)

// The backend's cache of saved plans for spi.execute(text, args...): PL/pgSQL
// keeps the plan of each of its statements; without this, every spi.execute
// of a query text with parameters parsed, analysed and planned it again
// (bench/rowbench spi_text: 3.4x the prepared plan).
//
// Keyed by the query text alone: the parameter types are those PostgreSQL
// infers from the text (spi.execute gives none), so the same text always
// gets the same ones. The plans are SPI_keepplan'd, so PostgreSQL's plan
// cache revalidates them as it does PL/pgSQL's (DDL on what they use, a
// changed search_path, the role for row-level security); privileges and the
// read-only rule are checked at each execution, as before. A plan is freed
// (SPI_freeplan) when evicted, least recently used first, once no execution
// of it is still running (an outer spi.execute whose query calls back into
// plerl may be in the middle of it while an inner one evicts it).
//
// Not cached: texts longer than planCacheMaxText (generated SQL rarely
// repeats), CALL (in a procedure it may commit, and a saved plan's reference
// must not outlive the transaction that took it: executed one-shot as
// before), spi.execute without arguments (SPI_execute: it may hold several
// statements, each planned after the previous one ran), cursors.
const (
	planCacheMax     = 64
	planCacheMaxText = 4096
)

type planCacheEntry struct {
	sql string
	p   *spiPlan
}

type planCacheT struct {
	m   map[string]*list.Element
	lru list.List // front: most recently used; values *planCacheEntry
}

// Touched only by the goroutine that entered from the backend.
var planCache = planCacheT{m: map[string]*list.Element{}}

// cachedPlan returns a saved plan for sql (prepared now if it is not
// cached) and a function to call when the execution is over. A plan that
// must not be cached comes back one-shot: done frees it.
func cachedPlan(sql string) (*spiPlan, func() error, error) {
	if e, ok := planCache.m[sql]; ok {
		planCache.lru.MoveToFront(e)
		p := e.Value.(*planCacheEntry).p
		p.busy++
		return p, p.release, nil
	}
	oneShot := func() (*spiPlan, func() error, error) {
		p, err := prepare(sql, nil, 0)
		if err != nil {
			return nil, nil, err
		}
		return p, p.Free, nil
	}
	if len(sql) > planCacheMaxText || mightBeCall(sql) {
		return oneShot()
	}
	p, err := prepare(sql, nil, C.PLERL_PLAN_KEEP)
	if err != nil {
		return nil, nil, err
	}
	if p.isCall { // mightBeCall is meant to catch every CALL; in case not
		if err := p.Free(); err != nil {
			return nil, nil, err
		}
		return oneShot()
	}
	p.cached = true
	p.busy++
	planCache.m[sql] = planCache.lru.PushFront(&planCacheEntry{sql: sql, p: p})
	for planCache.lru.Len() > planCacheMax {
		old := planCache.lru.Back()
		planCache.lru.Remove(old)
		oe := old.Value.(*planCacheEntry)
		delete(planCache.m, oe.sql)
		oe.p.cached = false
		if oe.p.busy == 0 {
			_ = oe.p.Free() // a failed SPI_freeplan leaves memory, nothing else
		}
	}
	return p, p.release, nil
}

// release ends one execution of a cached plan; the last one of an evicted
// plan frees it.
func (p *spiPlan) release() error {
	p.busy--
	if p.busy == 0 && !p.cached {
		return p.Free()
	}
	return nil
}

// mightBeCall: whether sql's first word, after blanks and -- comments, is
// CALL, or it starts with a /* comment (spi.c's looks_like_call).
func mightBeCall(sql string) bool {
	for {
		sql = strings.TrimLeft(sql, " \t\n\r\f\v")
		if strings.HasPrefix(sql, "--") {
			i := strings.IndexByte(sql, '\n')
			if i < 0 {
				return false
			}
			sql = sql[i:]
			continue
		}
		break
	}
	if strings.HasPrefix(sql, "/*") {
		return true
	}
	if len(sql) < 4 || !strings.EqualFold(sql[:4], "call") {
		return false
	}
	if len(sql) == 4 {
		return true
	}
	c := sql[4]
	return !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80)
}
