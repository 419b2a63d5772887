// Package sqlstate is plerl's one table of SQLSTATEs (generated from PostgreSQL's errcodes.txt, plus plerl's class PE).
package sqlstate

//go:generate go run gen.go

import "sync"

// conditions is the table of conditionMap, built on first use.
var conditions = sync.OnceValue(conditionMap)

// Condition returns the condition name of code (e.g. "invalid_parameter_value"
// for 22023), or "" if code is neither PostgreSQL's nor plerl's.
func Condition(code string) string { return conditions()[code] }

// Known reports whether code is in the table.
func Known(code string) bool { _, ok := conditions()[code]; return ok }

// byName is the reverse of conditions, built on first use.
var byName = sync.OnceValue(func() map[string]string {
	conds := conditions()
	m := make(map[string]string, len(conds))
	for c, n := range conds {
		if _, dup := m[n]; !dup || c[2:] == "000" {
			m[n] = c
		}
	}
	return m
})

// Code returns the SQLSTATE of a condition name (e.g. "22023" for
// "invalid_parameter_value"), or "" if no condition has that name.
func Code(name string) string { return byName()[name] }
