// Nesting: gopher-lua's compiler recurses once per level of the syntax
// tree, and Go cannot recover from a goroutine stack overflow (it aborts
// the process). One function body of a few megabytes of "{" would take the
// backend down, and PostgreSQL with it into crash recovery. Its parser
// keeps a stack entry (a few hundred bytes) per open level, and a parse
// cannot be interrupted: a deeply nested or very large source would use
// gigabytes before the memory limit could act. So source is checked before
// it is parsed (size, and nesting as the tokens show it) and the tree is
// measured before it is compiled.
package pl

import (
	"fmt"

	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/yuin/gopher-lua/ast"
)

// maxSourceDepth bounds the nesting of a chunk's syntax tree. The compiler
// uses well under a kilobyte of stack per level; long operator chains
// ("a .. b .. c ...", "x == 1 or x == 2 or ...") nest one level per operator.
const maxSourceDepth = 10000

// maxSourceBytes bounds one chunk's source: parsing takes some 35 bytes of
// memory per byte of plain source, all of it before any limit can act.
const maxSourceBytes = 8 << 20

// errSourceTooLarge is returned by checkSource.
type errSourceTooLarge struct{ n int }

func (e errSourceTooLarge) Error() string {
	return fmt.Sprintf("Lua source of %d bytes is larger than %d bytes", e.n, maxSourceBytes)
}

// checkSource refuses, before parsing, source larger than maxSourceBytes
// or nesting deeper than maxSourceDepth by its tokens: brackets, blocks
// (function, do, if, repeat ... end, until) and runs of the operators the
// parser stacks up (unary -, not, #, and the right-associative .. and ^).
// Strings and comments are skipped. It over-estimates rather than under.
func checkSource(src string) error {
	if len(src) > maxSourceBytes {
		return errSourceTooLarge{len(src)}
	}
	var (
		depth  int   // open brackets and blocks
		chain  int   // operator run at this level
		chains []int // runs of the enclosing levels
		sum    int   // sum of chains
		prevOp = true
	)
	open := func() {
		depth++
		chains = append(chains, chain)
		chain = 0
	}
	closeLevel := func() {
		if depth > 0 {
			depth--
		}
		sum -= chain
		chain = 0
		if n := len(chains); n > 0 {
			chain = chains[n-1]
			chains = chains[:n-1]
		}
	}
	stack := func() {
		chain++
		sum++
	}
	for i := 0; i < len(src); {
		if depth+sum > maxSourceDepth {
			return errTooDeep{}
		}
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			i = skipComment(src, i+2)
			continue
		case c == '\'' || c == '"':
			i = skipQuoted(src, i)
			prevOp = false
			continue
		case c == '[' && longBracket(src, i) >= 0:
			i = skipLong(src, i)
			prevOp = false
			continue
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			switch src[i:j] {
			case "function", "do", "if", "repeat":
				open()
				prevOp = true
			case "end", "until":
				closeLevel()
				prevOp = false
			case "not":
				stack()
				prevOp = true
			case "and", "or", "then", "else", "elseif", "in", "local", "return", "while", "for":
				sum -= chain
				chain = 0
				prevOp = true
			default:
				prevOp = false
			}
			i = j
			continue
		case c >= '0' && c <= '9':
			for i < len(src) && (isIdentStart(src[i]) || src[i] >= '0' && src[i] <= '9' || src[i] == '.' ||
				(src[i] == '-' || src[i] == '+') && (src[i-1] == 'e' || src[i-1] == 'E' || src[i-1] == 'p' || src[i-1] == 'P')) {
				i++
			}
			prevOp = false
			continue
		}
		switch c {
		case '(', '{', '[':
			open()
			prevOp = true
		case ')', '}', ']':
			closeLevel()
			prevOp = false
		case '.':
			if i+1 < len(src) && src[i+1] == '.' {
				if i+2 < len(src) && src[i+2] == '.' {
					i += 3
					prevOp = false
					continue
				}
				stack()
				i += 2
				prevOp = true
				continue
			}
			prevOp = true
		case '^', '#':
			stack()
			prevOp = true
		case '-':
			if prevOp {
				stack()
			}
			prevOp = true
		case ',', ';', '=':
			sum -= chain
			chain = 0
			prevOp = true
		default:
			prevOp = true
		}
		i++
	}
	if depth+sum > maxSourceDepth {
		return errTooDeep{}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// longBracket returns the level of a long bracket [==[ at src[i], or -1.
func longBracket(src string, i int) int {
	j := i + 1
	for j < len(src) && src[j] == '=' {
		j++
	}
	if j < len(src) && src[j] == '[' {
		return j - i - 1
	}
	return -1
}

// skipLong skips a long string or comment body starting at its [==[.
func skipLong(src string, i int) int {
	level := longBracket(src, i)
	close := "]" + repeatByte('=', level) + "]"
	start := i + level + 2
	for k := start; k+len(close) <= len(src); k++ {
		if src[k:k+len(close)] == close {
			return k + len(close)
		}
	}
	return len(src)
}

func repeatByte(b byte, n int) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return string(out)
}

// skipComment skips a comment whose text starts at i (after "--").
func skipComment(src string, i int) int {
	if i < len(src) && src[i] == '[' && longBracket(src, i) >= 0 {
		return skipLong(src, i)
	}
	for i < len(src) && src[i] != '\n' {
		i++
	}
	return i
}

// skipQuoted skips a '...' or "..." string starting at its quote.
func skipQuoted(src string, i int) int {
	q := src[i]
	for i++; i < len(src); i++ {
		switch src[i] {
		case '\\':
			i++
		case q, '\n':
			return i + 1
		}
	}
	return i
}

// errTooDeep is returned by checkNesting.
type errTooDeep struct{}

func (errTooDeep) Error() string {
	return fmt.Sprintf("Lua source nested deeper than %d levels", maxSourceDepth)
}

// sourceError is err from checkSource or checkNesting as an *Error:
// 54000 (program_limit_exceeded) for size, 54001 (statement_too_complex)
// for depth.
func sourceError(what string, err error) *Error {
	state := sqlstate.StatementTooComplex
	if _, ok := err.(errSourceTooLarge); ok {
		state = sqlstate.ProgramLimitExceeded
	}
	return &Error{Kind: KindError, SQLState: state, Message: fmt.Sprintf("cannot compile %s: %s", what, err)}
}

// checkNesting reports whether chunk nests deeper than maxSourceDepth.
func checkNesting(chunk []ast.Stmt) error {
	w := nestWalker{}
	w.stmts(chunk, 1)
	if w.tooDeep {
		return errTooDeep{}
	}
	return nil
}

type nestWalker struct{ tooDeep bool }

func (w *nestWalker) deep(d int) bool {
	if d > maxSourceDepth {
		w.tooDeep = true
	}
	return w.tooDeep
}

func (w *nestWalker) stmts(ss []ast.Stmt, d int) {
	for _, s := range ss {
		if w.tooDeep {
			return
		}
		w.stmt(s, d)
	}
}

func (w *nestWalker) exprs(es []ast.Expr, d int) {
	for _, e := range es {
		if w.tooDeep {
			return
		}
		w.expr(e, d)
	}
}

func (w *nestWalker) stmt(s ast.Stmt, d int) {
	if w.deep(d) {
		return
	}
	switch x := s.(type) {
	case *ast.AssignStmt:
		w.exprs(x.Lhs, d+1)
		w.exprs(x.Rhs, d+1)
	case *ast.LocalAssignStmt:
		w.exprs(x.Exprs, d+1)
	case *ast.FuncCallStmt:
		w.expr(x.Expr, d+1)
	case *ast.DoBlockStmt:
		w.stmts(x.Stmts, d+1)
	case *ast.WhileStmt:
		w.expr(x.Condition, d+1)
		w.stmts(x.Stmts, d+1)
	case *ast.RepeatStmt:
		w.expr(x.Condition, d+1)
		w.stmts(x.Stmts, d+1)
	case *ast.IfStmt:
		w.expr(x.Condition, d+1)
		w.stmts(x.Then, d+1)
		w.stmts(x.Else, d+1) // elseif chains nest here
	case *ast.NumberForStmt:
		w.expr(x.Init, d+1)
		w.expr(x.Limit, d+1)
		if x.Step != nil {
			w.expr(x.Step, d+1)
		}
		w.stmts(x.Stmts, d+1)
	case *ast.GenericForStmt:
		w.exprs(x.Exprs, d+1)
		w.stmts(x.Stmts, d+1)
	case *ast.FuncDefStmt:
		if x.Name != nil && x.Name.Receiver != nil {
			w.expr(x.Name.Receiver, d+1)
		}
		if x.Func != nil {
			w.expr(x.Func, d+1)
		}
	case *ast.ReturnStmt:
		w.exprs(x.Exprs, d+1)
	}
}

func (w *nestWalker) expr(e ast.Expr, d int) {
	if e == nil || w.deep(d) {
		return
	}
	switch x := e.(type) {
	case *ast.AttrGetExpr:
		w.expr(x.Object, d+1)
		w.expr(x.Key, d+1)
	case *ast.TableExpr:
		for _, f := range x.Fields {
			if w.tooDeep {
				return
			}
			w.expr(f.Key, d+1)
			w.expr(f.Value, d+1)
		}
	case *ast.FuncCallExpr:
		w.expr(x.Func, d+1)
		w.expr(x.Receiver, d+1)
		w.exprs(x.Args, d+1)
	case *ast.LogicalOpExpr:
		w.expr(x.Lhs, d+1)
		w.expr(x.Rhs, d+1)
	case *ast.RelationalOpExpr:
		w.expr(x.Lhs, d+1)
		w.expr(x.Rhs, d+1)
	case *ast.StringConcatOpExpr:
		w.expr(x.Lhs, d+1)
		w.expr(x.Rhs, d+1)
	case *ast.ArithmeticOpExpr:
		w.expr(x.Lhs, d+1)
		w.expr(x.Rhs, d+1)
	case *ast.UnaryMinusOpExpr:
		w.expr(x.Expr, d+1)
	case *ast.UnaryNotOpExpr:
		w.expr(x.Expr, d+1)
	case *ast.UnaryLenOpExpr:
		w.expr(x.Expr, d+1)
	case *ast.FunctionExpr:
		w.stmts(x.Stmts, d+1)
	}
}
