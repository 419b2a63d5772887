// Concatenation: every `..` is compiled into a call of a built-in that checks the budget.
//
// gopher-lua's VM joins strings in OP_CONCAT with no hook: `s..s..s..s`
// built gigabytes in one instruction, past plerl.lua_memory_limit. Every
// chunk is compiled here (Compile, paramProto, loadChunk), so before
// compiling, concatFix rewrites each chain a .. b .. c (Lua's concatenation
// is right-associative; a chain is one OP_CONCAT) into
// ("")[concatKey](a, b, c): the string table's hidden entry, reached
// through the string metatable, which scripts cannot replace. A global
// would be looked up in the function's environment, which setfenv can
// replace with a table that lacks it. The key is no Lua identifier, so
// no ordinary `string.x` spells it.
package pl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// concatKey is the string table's entry that `..` compiles to.
const concatKey = "plerl.concat"

// concatFix rewrites every concatenation in chunk (in place).
func concatFix(chunk []ast.Stmt) {
	fixStmts(chunk)
}

func fixStmts(stmts []ast.Stmt) {
	for _, st := range stmts {
		fixStmt(st)
	}
}

func fixExprs(exprs []ast.Expr) {
	for i, e := range exprs {
		exprs[i] = fixExpr(e)
	}
}

func fixStmt(st ast.Stmt) {
	switch x := st.(type) {
	case *ast.AssignStmt:
		fixExprs(x.Lhs)
		fixExprs(x.Rhs)
	case *ast.LocalAssignStmt:
		fixExprs(x.Exprs)
	case *ast.FuncCallStmt:
		x.Expr = fixExpr(x.Expr)
	case *ast.DoBlockStmt:
		fixStmts(x.Stmts)
	case *ast.WhileStmt:
		x.Condition = fixExpr(x.Condition)
		fixStmts(x.Stmts)
	case *ast.RepeatStmt:
		x.Condition = fixExpr(x.Condition)
		fixStmts(x.Stmts)
	case *ast.IfStmt:
		x.Condition = fixExpr(x.Condition)
		fixStmts(x.Then)
		fixStmts(x.Else)
	case *ast.NumberForStmt:
		x.Init = fixExpr(x.Init)
		x.Limit = fixExpr(x.Limit)
		if x.Step != nil {
			x.Step = fixExpr(x.Step)
		}
		fixStmts(x.Stmts)
	case *ast.GenericForStmt:
		fixExprs(x.Exprs)
		fixStmts(x.Stmts)
	case *ast.FuncDefStmt:
		if x.Name != nil {
			if x.Name.Func != nil {
				x.Name.Func = fixExpr(x.Name.Func)
			}
			if x.Name.Receiver != nil {
				x.Name.Receiver = fixExpr(x.Name.Receiver)
			}
		}
		fixStmts(x.Func.Stmts)
	case *ast.ReturnStmt:
		fixExprs(x.Exprs)
	}
}

func fixExpr(e ast.Expr) ast.Expr {
	switch x := e.(type) {
	case nil:
		return nil
	case *ast.StringConcatOpExpr:
		// One chain: Lhs .. (Rhs's chain), as gopher-lua's compiler
		// flattens it into one OP_CONCAT. A concatenation on the left is a
		// parenthesised one of its own.
		var args []ast.Expr
		cur := ast.Expr(x)
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				args = append(args, fixExpr(cur))
				break
			}
			args = append(args, fixExpr(c.Lhs))
			cur = c.Rhs
		}
		key := &ast.StringExpr{Value: concatKey}
		obj := &ast.StringExpr{Value: ""}
		fn := &ast.AttrGetExpr{Object: obj, Key: key}
		// Not AdjustRet (what the parser sets for a parenthesised call):
		// gopher-lua compiles an adjusted call that is assigned to a local
		// straight into that local's register, which clobbered an operand
		// reading the same local (s = s:sub(1, i) .. x). The built-in
		// returns exactly one value, so nothing needs adjusting.
		call := &ast.FuncCallExpr{Func: fn, Args: args}
		for _, n := range []ast.PositionHolder{key, obj, fn, call} {
			n.SetLine(x.Line())
			n.SetLastLine(x.LastLine())
		}
		return call
	case *ast.AttrGetExpr:
		x.Object = fixExpr(x.Object)
		x.Key = fixExpr(x.Key)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			f.Key = fixExpr(f.Key)
			f.Value = fixExpr(f.Value)
		}
	case *ast.FuncCallExpr:
		x.Func = fixExpr(x.Func)
		x.Receiver = fixExpr(x.Receiver)
		fixExprs(x.Args)
	case *ast.LogicalOpExpr:
		x.Lhs = fixExpr(x.Lhs)
		x.Rhs = fixExpr(x.Rhs)
	case *ast.RelationalOpExpr:
		x.Lhs = fixExpr(x.Lhs)
		x.Rhs = fixExpr(x.Rhs)
	case *ast.ArithmeticOpExpr:
		x.Lhs = fixExpr(x.Lhs)
		x.Rhs = fixExpr(x.Rhs)
	case *ast.UnaryMinusOpExpr:
		x.Expr = fixExpr(x.Expr)
	case *ast.UnaryNotOpExpr:
		x.Expr = fixExpr(x.Expr)
	case *ast.UnaryLenOpExpr:
		x.Expr = fixExpr(x.Expr)
	case *ast.FunctionExpr:
		fixStmts(x.Stmts)
	}
	return e
}

// luaConcat is the `..` of its arguments with Lua's semantics: strings and
// numbers join, right to left, as many at once as there are in a row;
// another value needs a __concat metamethod (of the left operand, else
// the right one). Each join is reserved first.
func (s *State) luaConcat(L *lua.LState) int {
	n := L.GetTop()
	if n == 2 { // the common case: a .. b of two strings, small
		a, ok1 := L.Get(1).(lua.LString)
		b, ok2 := L.Get(2).(lua.LString)
		if ok1 && ok2 && len(a)+len(b) < reserveFloor {
			L.Push(a + b)
			return 1
		}
	}
	rhs := L.Get(n)
	for i := n - 1; i >= 1; {
		lhs := L.Get(i)
		if lua.LVCanConvToString(lhs) && lua.LVCanConvToString(rhs) {
			j := i
			for j > 1 && lua.LVCanConvToString(L.Get(j-1)) {
				j--
			}
			size := len(luaText(rhs))
			for k := j; k <= i; k++ {
				size = addSize(size, len(luaText(L.Get(k))))
			}
			s.reserve(L, size, "concatenation")
			var b strings.Builder
			b.Grow(size)
			for k := j; k <= i; k++ {
				b.WriteString(luaText(L.Get(k)))
			}
			b.WriteString(luaText(rhs))
			rhs = lua.LString(b.String())
			i = j - 1
			continue
		}
		mm := L.GetMetaField(lhs, "__concat")
		if mm == lua.LNil {
			mm = L.GetMetaField(rhs, "__concat")
		}
		if mm.Type() != lua.LTFunction {
			bad := lhs
			if lua.LVCanConvToString(lhs) {
				bad = rhs
			}
			L.RaiseError("attempt to concatenate a %s value", bad.Type().String())
		}
		L.Push(mm)
		L.Push(lhs)
		L.Push(rhs)
		L.Call(2, 1)
		rhs = L.Get(-1)
		L.Pop(1)
		i--
	}
	L.Push(rhs)
	return 1
}
