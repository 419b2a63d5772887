# bench/plbench/summary.awk: the plbench summary from times.txt lines
#   case mode lang round rows ms
# (awk -v rounds=.. -v langs=.. -v cases=.. -v modes=.. -f stats.awk -f summary.awk times.txt)
	$1 !~ /^#/ && $4 > 0 { k = $1 SUBSEP $2 SUBSEP $3; n[k]++; v[k, n[k]] = $6; rows[$1] = $5
	t[$1, $2, $3, $4] = $6 }
END {
	nl = split(langs, L, " "); nc = split(cases, C, " "); nm = split(modes, M, " ")
	for (ci = 1; ci <= nc; ci++) {
		c = C[ci]; N = rows[c]
		printf "\n== %s: %s, N = %d calls, %d rounds\n", c, c == "trivial" ? "f(x int) = x + 1" : "Lua/plpgsql loop s = s + j*x, j = 1..100", N, rounds
		printf "%-7s %-8s %10s %21s %9s %18s\n", "mode", "lang", "median_ms", "min..max ms", "ns/call", "overhead ns/call"
		for (mi = 1; mi <= nm; mi++) {
			m = M[mi]
			for (li = 1; li <= nl; li++) {
				l = L[li]; k = c SUBSEP m SUBSEP l; cnt = n[k]
				if (!cnt) continue
				delete a; for (i = 1; i <= cnt; i++) a[i] = v[k, i]
				med[c, m, l] = median(a, cnt)
				ov = "-"
				if (c == "trivial" && l != "sql" && (c SUBSEP m SUBSEP "sql") in med) ov = sprintf("%.0f", (med[c, m, l] - med[c, m, "sql"]) * 1e6 / N)
				printf "%-7s %-8s %10.1f %10.1f..%-10.1f %9.0f %18s\n", m, l, med[c, m, l], amin(a, cnt), amax(a, cnt), med[c, m, l] * 1e6 / N, ov
			}
		}
		if (c == "loop") {
			printf "loop body, ns per iteration = (loop ns/call - trivial ns/call) / 100:\n"
			for (mi = 1; mi <= nm; mi++) {
				m = M[mi]; line = ""
				for (li = 1; li <= nl; li++) {
					l = L[li]
					if (l != "sql" && ("loop" SUBSEP m SUBSEP l) in med && ("trivial" SUBSEP m SUBSEP l) in med)
						line = line sprintf("  %s %.1f", l, (med["loop", m, l] * 1e6 / N - med["trivial", m, l] * 1e6 / rows["trivial"]) / 100)
				}
				if (line != "") printf "  %-7s%s\n", m, line
			}
		}
		printf "ratios (median of the per-round ratios, min..max):\n"
		for (mi = 1; mi <= nm; mi++) {
			m = M[mi]
			split("pllua plpgsql", B, " ")
			for (bi = 1; bi <= 2; bi++) {
				b = B[bi]; cnt = 0; delete a
				for (r = 1; r <= rounds; r++)
					if ((c, m, "plerl", r) in t && (c, m, b, r) in t && t[c, m, b, r] > 0)
						a[++cnt] = t[c, m, "plerl", r] / t[c, m, b, r]
				if (!cnt) continue
				x = median(a, cnt)
				tgt = ""
				if (c == "trivial") tgt = sprintf("   target <= %.1fx: %s", b == "pllua" ? 0.6 : 1.3, verdict(x, b == "pllua" ? 0.6 : 1.3))
				printf "  %-7s plerl/%-8s %5.2fx (%.2f..%.2f)%s\n", m, b, x, amin(a, cnt), amax(a, cnt), tgt
			}
		}
	}
}
