// rowsStay: a static check over a trigger function's compiled bytecode
// that tells whether the function can keep its trigger object or row
// tables (trigger, old, new, trigger.new/old/row) past the call. When it
// cannot, the caller may reuse those tables for the next row instead of
// allocating them afresh (handler/trigger.go, CallTrigger).
//
// The check follows the function's registers through its control flow
// (gopher-lua v1.1.2's instruction set, opcode.go and vm.go there): a
// register is "hot" when it may hold one of the tables: the parameters
// trigger, old and new (registers 0-2), copies of a hot register (MOVE,
// MOVEN's moves, TESTSET), and what indexing what may be the trigger
// object gives under the key "new", "old" or "row" or under a key that is
// not a constant (a row's fields are column values, never these tables). Where
// paths meet, a register is hot if it is on any path. The function may
// keep a table when a hot register is
//
//   - stored: SETTABLE/SETTABLEKS as the key or the value, SETLIST,
//     SETGLOBAL, SETUPVAL;
//
//   - captured by a closure (CLOSURE's MOVE pseudo-instructions; nested
//     functions reach the tables only that way), or held, at any point, by
//     a register some closure of the function captures: until the function
//     returns, an upvalue is the register itself, so a closure made while
//     the register held something else reads the table once it is there
//     (and keeps it when the upvalue is closed);
//
//   - passed to a call or called (CALL, TAILCALL, TFORLOOP's iterator and
//     state, SELF's object): that covers setmetatable, rawset, print,
//     pcall, error, coroutines and any function that stores its argument;
//
//   - used by an instruction the check does not know.
//
//   - an operand of arithmetic (the other operand's metamethod gets it),
//     or the key of an index (the indexed table's __index gets it).
//
// Returning a hot register is fine: the caller reads the result before
// the next row. Indexing a hot table, its length, negation and
// comparison reach only its own metatable (comparison: only a metamethod
// both operands share): the trigger object's is out of reach of Lua
// (__metatable), and a row's must be as plerl made it (no __index,
// __newindex, ...): the caller checks the type's shared metatable on
// every row (RowMetaIntact; Lua code can add fields to it through
// getmetatable of any other row of the type) and gives kept rows a
// private copy of it (PrivateRowMeta), which no Lua code can reach, so a
// field added during the call does not reach them either. The standard library has no debug.getlocal here, so a
// callee cannot reach the caller's registers.
package pl

import (
	lua "github.com/yuin/gopher-lua"
)

// regSet is what the check knows of the 256 registers a gopher-lua
// function can have: bit r, register r may hold one of the tables ("hot");
// bit 256+r, it may hold the trigger object itself (only indexing that
// gives a row).
type regSet [8]uint64

func (r *regSet) bit(i int) bool { return r[i>>6]&(1<<(i&63)) != 0 }
func (r *regSet) set(i int)      { r[i>>6] |= 1 << (i & 63) }
func (r *regSet) unset(i int)    { r[i>>6] &^= 1 << (i & 63) }

func (r *regSet) has(i int) bool  { return i >= 0 && i < 256 && r.bit(i) }
func (r *regSet) hasT(i int) bool { return i >= 0 && i < 256 && r.bit(256+i) }

// add marks register i hot (a row table, not the trigger object).
func (r *regSet) add(i int) {
	if i >= 0 && i < 256 {
		r.set(i)
	}
}

// addT marks register i as maybe the trigger object.
func (r *regSet) addT(i int) {
	if i >= 0 && i < 256 {
		r.set(i)
		r.set(256 + i)
	}
}

// del: register i holds none of the tables.
func (r *regSet) del(i int) {
	if i >= 0 && i < 256 {
		r.unset(i)
		r.unset(256 + i)
	}
}

// copy is R(a) := R(b).
func (r *regSet) copy(a, b int) {
	hot, trig := r.has(b), r.hasT(b)
	r.del(a)
	if trig {
		r.addT(a)
	} else if hot {
		r.add(a)
	}
}

// from reports whether a register at or above i is hot.
func (r *regSet) from(i int) bool { return r.any(max(i, 0), 256) }

// any reports whether a register in [lo, hi) is hot.
func (r *regSet) any(lo, hi int) bool {
	for j := lo; j < hi; j++ {
		if r.has(j) {
			return true
		}
	}
	return false
}

// overlaps reports whether a register hot in r is one set in o.
func (r *regSet) overlaps(o regSet) bool {
	for i := 0; i < 4; i++ { // bits 0-255: the registers
		if r[i]&o[i] != 0 {
			return true
		}
	}
	return false
}

// union adds o to r and reports whether r grew.
func (r *regSet) union(o regSet) bool {
	grew := false
	for i := range r {
		if n := r[i] | o[i]; n != r[i] {
			r[i], grew = n, true
		}
	}
	return grew
}

// gopher-lua's instruction layout (opcode.go): op 6 bits, A 8, C 9, B 9.
func instOp(i uint32) int { return int(i >> 26) }
func instA(i uint32) int  { return int(i>>18) & 0xff }
func instB(i uint32) int  { return int(i & 0x1ff) }
func instC(i uint32) int  { return int(i>>9) & 0x1ff }
func instSbx(i uint32) int {
	const maxSbx = (1<<18 - 1) >> 1
	return int(i&0x3ffff) - maxSbx
}

const rkConst = 1 << 8 // RK operand: a constant (index rk &^ rkConst) when set

// rowsStay reports whether the function p, whose registers 0..params-1
// hold the trigger object (register 0) and the row tables on entry,
// provably cannot keep any of them past its return. false when in doubt.
func rowsStay(p *lua.FunctionProto, params int) bool {
	if p == nil || int(p.NumParameters) < params || p.NumUpvalues != 0 {
		return false
	}
	code := p.Code
	n := len(code)
	if n == 0 {
		return false
	}
	captured, ok := capturedRegs(p)
	if !ok {
		return false
	}
	in := make([]regSet, n+1)
	seen := make([]bool, n+1)
	for r := 0; r < params; r++ {
		in[0].add(r)
	}
	in[0].addT(0)
	seen[0] = true
	work := []int{0}
	queued := make([]bool, n+1)
	queued[0] = true
	for len(work) > 0 {
		pc := work[len(work)-1]
		work = work[:len(work)-1]
		queued[pc] = false
		out, next, falsyAt, ok := rowsStep(p, pc, in[pc])
		if !ok || out.overlaps(captured) {
			return false
		}
		for i, s := range next {
			out := out
			if i == 1 && falsyAt >= 0 {
				// the branch on which the tested register is false or nil
				out.del(falsyAt)
			}
			if s < 0 || s > n {
				return false // a jump the check does not understand
			}
			if s == n {
				continue // falls off the end (the compiler ends with RETURN)
			}
			if in[s].union(out) || !seen[s] {
				seen[s] = true
				if !queued[s] {
					queued[s] = true
					work = append(work, s)
				}
			}
		}
	}
	return true
}

// capturedRegs is the set of registers any closure the function makes
// captures (CLOSURE's MOVE pseudo-instructions), wherever it is made:
// false when the code cannot be read that way.
func capturedRegs(p *lua.FunctionProto) (regSet, bool) {
	var c regSet
	code := p.Code
	for pc := 0; pc < len(code); pc++ {
		inst := code[pc]
		switch instOp(inst) {
		case lua.OP_SETLIST:
			if instC(inst) == 0 {
				pc++ // the next word is SETLIST's C, not code
			}
		case lua.OP_CLOSURE:
			bx := int(inst & 0x3ffff)
			if bx >= len(p.FunctionPrototypes) {
				return c, false
			}
			nup := int(p.FunctionPrototypes[bx].NumUpvalues)
			for i := 1; i <= nup; i++ {
				if pc+i >= len(code) {
					return c, false
				}
				if pi := code[pc+i]; instOp(pi) == lua.OP_MOVE {
					c.add(instB(pi))
				}
			}
			pc += nup
		}
	}
	return c, true
}

// rowsStep is one instruction: the hot registers after it, the
// instructions that may run next, and false when a hot register may
// escape (or the instruction is not understood). falsy >= 0: on the
// second of next, register falsy holds false or nil (a TEST's branch).
func rowsStep(p *lua.FunctionProto, pc int, hot regSet) (out regSet, next []int, falsy int, ok bool) {
	falsy = -1
	code := p.Code
	inst := code[pc]
	a, b, c := instA(inst), instB(inst), instC(inst)
	next = []int{pc + 1}
	rkHot := func(rk int) bool { return rk&rkConst == 0 && hot.has(rk) }
	switch instOp(inst) {
	case lua.OP_MOVE, lua.OP_MOVEN:
		// MOVEN's C following moves are MOVEs themselves: stepping
		// through them one by one has the same effect.
		hot.copy(a, b)
	case lua.OP_LOADK, lua.OP_GETGLOBAL, lua.OP_GETUPVAL, lua.OP_NEWTABLE,
		lua.OP_UNM, lua.OP_NOT, lua.OP_LEN:
		// UNM and LEN of a hot table look only at its own metatable.
		hot.del(a)
	case lua.OP_ADD, lua.OP_SUB, lua.OP_MUL, lua.OP_DIV, lua.OP_MOD, lua.OP_POW:
		// The other operand's metamethod would get the hot table.
		if rkHot(b) || rkHot(c) {
			return hot, nil, -1, false
		}
		hot.del(a)
	case lua.OP_CONCAT:
		// (concat.go turns `..` into a call; a CONCAT is not expected.)
		if hot.any(b, c+1) {
			return hot, nil, -1, false
		}
		hot.del(a)
	case lua.OP_LOADBOOL:
		hot.del(a)
		if c != 0 {
			next = []int{pc + 2}
		}
	case lua.OP_LOADNIL:
		for r := a; r <= b; r++ {
			hot.del(r)
		}
	case lua.OP_GETTABLE, lua.OP_GETTABLEKS:
		if rkHot(c) {
			return hot, nil, -1, false // t[row]: t's __index would get it
		}
		keyed := false
		if hot.hasT(b) { // a row's fields are its column values
			if c&rkConst == 0 {
				keyed = true // a key only known at run time
			} else if k := c &^ rkConst; k < len(p.Constants) {
				switch p.Constants[k] {
				case lua.LString("new"), lua.LString("old"), lua.LString("row"):
					keyed = true
				}
			} else {
				return hot, nil, -1, false
			}
		}
		if keyed {
			hot.add(a)
		} else {
			hot.del(a)
		}
	case lua.OP_SETGLOBAL, lua.OP_SETUPVAL:
		if hot.has(a) {
			return hot, nil, -1, false
		}
	case lua.OP_SETTABLE, lua.OP_SETTABLEKS:
		if rkHot(b) || rkHot(c) {
			return hot, nil, -1, false
		}
	case lua.OP_SELF:
		if hot.has(b) || rkHot(c) {
			return hot, nil, -1, false
		}
		hot.del(a)
		hot.del(a + 1)
	case lua.OP_JMP:
		next = []int{pc + 1 + instSbx(inst)}
	case lua.OP_EQ, lua.OP_LT, lua.OP_LE:
		next = []int{pc + 1, pc + 2}
	case lua.OP_TEST:
		// truthy(R(A)) == (C == 0): skip to pc+2. So R(A) is false or nil
		// (no table) at pc+1 when C == 0, at pc+2 otherwise.
		if c == 0 {
			next = []int{pc + 2, pc + 1}
		} else {
			next = []int{pc + 1, pc + 2}
		}
		falsy = a
	case lua.OP_TESTSET:
		// R(A) := R(B) when truthy(R(B)) != (C == 0), then pc+1; else
		// pc+2 with R(A) as it was. C == 0 (`and`) copies a false or nil.
		if c != 0 && hot.has(b) {
			hot.copy(a, b)
		}
		next = []int{pc + 1, pc + 2}
	case lua.OP_CALL:
		if hot.has(a) || (b == 0 && hot.from(a+1)) || (b > 0 && hot.any(a+1, a+b)) {
			return hot, nil, -1, false
		}
		// Results are never hot: nothing reached the callee. C == 0:
		// results up to the top; clearing a..a+c-2 only is safe.
		for r := a; r <= a+c-2; r++ {
			hot.del(r)
		}
	case lua.OP_TAILCALL:
		if hot.has(a) || (b == 0 && hot.from(a+1)) || (b > 0 && hot.any(a+1, a+b)) {
			return hot, nil, -1, false
		}
		next = nil
	case lua.OP_RETURN:
		next = nil
	case lua.OP_FORPREP:
		hot.del(a)
		next = []int{pc + 1 + instSbx(inst)}
	case lua.OP_FORLOOP:
		hot.del(a)
		hot.del(a + 3)
		next = []int{pc + 1, pc + 1 + instSbx(inst)}
	case lua.OP_TFORLOOP:
		if hot.any(a, a+3) {
			return hot, nil, -1, false
		}
		for r := a + 3; r <= a+2+c; r++ {
			hot.del(r)
		}
		next = []int{pc + 1, pc + 2}
	case lua.OP_SETLIST:
		if (b == 0 && hot.from(a+1)) || (b > 0 && hot.any(a+1, a+b+1)) {
			return hot, nil, -1, false
		}
		if c == 0 {
			next = []int{pc + 2} // the next word is the real C, not code
		}
	case lua.OP_CLOSE, lua.OP_NOP:
	case lua.OP_CLOSURE:
		bx := int(inst & 0x3ffff)
		if bx >= len(p.FunctionPrototypes) {
			return hot, nil, -1, false
		}
		nup := int(p.FunctionPrototypes[bx].NumUpvalues)
		for i := 1; i <= nup; i++ {
			if pc+i >= len(code) {
				return hot, nil, -1, false
			}
			pi := code[pc+i]
			switch instOp(pi) {
			case lua.OP_MOVE:
				if hot.has(instB(pi)) {
					return hot, nil, -1, false
				}
			case lua.OP_GETUPVAL:
			default:
				return hot, nil, -1, false
			}
		}
		hot.del(a)
		next = []int{pc + 1 + nup}
	case lua.OP_VARARG:
		// `...` holds the trigger's arguments (strings) in the form this
		// check is used on. b == 0: up to the top; clear nothing.
		for r := a; r <= a+b-2; r++ {
			hot.del(r)
		}
	default:
		return hot, nil, -1, false
	}
	return hot, next, falsy, true
}
