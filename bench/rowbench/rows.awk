# bench/rowbench/rows.awk: summary of rows.txt ("case lang round n ms").
# Include after ../plbench/stats.awk? No: self-contained (mawk-safe).
function isort(a, n,    i, j, v) { for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v } }
function med(a, n) { isort(a, n); if (n == 0) return -1; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
$1 !~ /^#/ && NF == 5 { t[$1, $2, $3] = $5; cnt[$1, $2, $3] = $4; if ($3 > maxr) maxr = $3 }
# per-row (or per-iteration) cost of case c, language l, round r, in ns
function cost(c, l, r,    n) {
	if (!((c, l, r) in t)) return -1
	n = cnt[c, l, r]
	if (c ~ /^(before|date|after|transition)$/) return (t[c, l, r] - t["none", l, r]) * 1e6 / n
	if (c == "trivial") return (t[c, l, r] - t["trivial", "sql", r]) * 1e6 / n
	if (c == "loop") return (t[c, l, r] * 1e6 / n - t["trivial", l, r] * 1e6 / cnt["trivial", l, r]) / 100
	return t[c, l, r] * 1e6 / n
}
END {
	split("before date after transition spi_text spi_plan trivial loop", cases, " ")
	target["before"] = target["date"] = target["after"] = target["transition"] = 1.5
	target["spi_text"] = target["spi_plan"] = 1.5; target["trivial"] = 1.1; target["loop"] = 1.0
	unit["trivial"] = "ns/call over i+1"; unit["loop"] = "ns/iteration"
	printf "%-11s %10s %10s %10s   %-22s %-22s %s\n", "case", "plerl", "pllua", "plpgsql", "plerl/plpgsql", "plerl/pllua", "unit; target plerl/plpgsql"
	for (i = 1; i in cases; i++) {
		c = cases[i]
		split("plerl pllua plpgsql", L, " ")
		for (j = 1; j <= 3; j++) {
			n = 0; delete a
			for (r = 1; r <= maxr; r++) { v = cost(c, L[j], r); if (v >= 0) a[++n] = v }
			m[L[j]] = med(a, n)
		}
		for (j = 2; j <= 3; j++) {
			n = 0; delete a
			for (r = 1; r <= maxr; r++) { x = cost(c, "plerl", r); y = cost(c, L[j], r); if (x >= 0 && y > 0) a[++n] = x / y }
			rm[L[j]] = med(a, n); lo[L[j]] = a[1]; hi[L[j]] = a[n]
		}
		u = (c in unit) ? unit[c] : "ns/row"
		printf "%-11s %10.0f %10s %10.0f   %5.2fx (%4.2f..%4.2f)   %-22s %s; <= %.1fx: %s\n", c, m["plerl"],
			(m["pllua"] < 0 ? "n/a" : sprintf("%.0f", m["pllua"])), m["plpgsql"],
			rm["plpgsql"], lo["plpgsql"], hi["plpgsql"],
			(m["pllua"] < 0 ? "n/a" : sprintf("%5.2fx (%4.2f..%4.2f)", rm["pllua"], lo["pllua"], hi["pllua"])),
			u, target[c], (rm["plpgsql"] <= target[c] ? "MET" : "NOT MET")
	}
}
