// Package sqlstate is plerl's one table of SQLSTATEs (generated from PostgreSQL's errcodes.txt, plus plerl's class PE).
package sqlstate

//go:generate go run gen.go

// Condition returns the condition name of code (e.g. "invalid_parameter_value"
// for 22023), or "" if code is neither PostgreSQL's nor plerl's.
func Condition(code string) string { return conditions[code] }

// Known reports whether code is in the table.
func Known(code string) bool { _, ok := conditions[code]; return ok }

var byName map[string]string

// Code returns the SQLSTATE of a condition name (e.g. "22023" for
// "invalid_parameter_value"), or "" if no condition has that name.
func Code(name string) string {
	if byName == nil {
		byName = make(map[string]string, len(conditions))
		for c, n := range conditions {
			if _, dup := byName[n]; !dup || c[2:] == "000" {
				byName[n] = c
			}
		}
	}
	return byName[name]
}
