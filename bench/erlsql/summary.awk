# bench/erlsql/summary.awk: the erlsql summary from times.txt lines
#   <impl> <round> <per-call us> [key=value ...]
#   impl: libei sql lua_do lua_fn select1 go_free go_locked go_locked1
# (awk -v rounds=.. -v n=.. -f ../plbench/stats.awk -f summary.awk times.txt)
$1 !~ /^#/ && NF >= 3 {
	t[$1, $2] = $3; cnt[$1]++; v[$1, cnt[$1]] = $3
	for (i = 4; i <= NF; i++) { split($i, kv, "="); x[$1, kv[1], cnt[$1]] = kv[2] }
}
function stat(name,    i, m) {
	delete a
	for (i = 1; i <= cnt[name]; i++) a[i] = v[name, i]
	m = median(a, cnt[name])
	return sprintf("%8.1f  %7.1f..%-7.1f", m, amin(a, cnt[name]), amax(a, cnt[name]))
}
function xmed(name, key,    i, k) {
	delete a; k = 0
	for (i = 1; i <= cnt[name]; i++) if ((name, key, i) in x) a[++k] = x[name, key, i]
	if (!k) return ""
	xm = median(a, k); xlo = amin(a, k); xhi = amax(a, k)
	return k
}
# median (min..max) over rounds of (num - minus) / den; minus optional
function ratio(num, minus, den,    r, k, y) {
	delete a; k = 0
	for (r = 1; r <= rounds; r++)
		if ((num, r) in t && (den, r) in t && (minus == "" || (minus, r) in t)) {
			y = t[num, r] - (minus == "" ? 0 : t[minus, r])
			a[++k] = y / t[den, r]
		}
	if (!k) return -1
	rmed = median(a, k); rmin = amin(a, k); rmax = amax(a, k)
	return rmed
}
END {
	printf "\n== erlang:node() on the same node, N = %d calls per measurement, %d rounds\n", n, rounds
	printf "per call = wall time / N, in us: median over rounds, min..max of the rounds\n"
	printf "%-10s %8s  %15s   %s\n", "impl", "median", "min..max", "what"
	what["libei"] = "cnode_bench: ei_rpc erlang:node() (1e6/per_s)"
	what["sql"] = "SELECT erlang_call('bench','erlang','node','[]') FROM generate_series(1,N)"
	what["lua_do"] = "DO block: N x erlang.call('bench','erlang','node')"
	what["lua_fn"] = "SELECT lua_node() FROM generate_series(1,N) (one erlang.call per row)"
	what["select1"] = "SELECT 1 FROM generate_series(1,N)"
	what["go_free"] = "plerl's Go client alone (lockcall): Conn.Call from a free goroutine"
	what["go_locked"] = "the same from a goroutine locked to its OS thread (as in a backend)"
	what["go_locked1"] = "locked, GOMAXPROCS=1"
	ni = split("libei sql lua_do lua_fn select1 go_free go_locked go_locked1", I, " ")
	for (i = 1; i <= ni; i++) if (cnt[I[i]]) printf "%-10s %s   %s\n", I[i], stat(I[i]), what[I[i]]
	if (xmed("libei", "median_us"))
		printf "libei per-call latency median (cnode_bench median_us): %.1f us (%.1f..%.1f)\n", xm, xlo, xhi
	for (i = 6; i <= ni; i++)
		if (xmed(I[i], "cs_per_call"))
			printf "%s: context switches per call (whole process) %.2f (%.2f..%.2f)\n", I[i], xm, xlo, xhi
	printf "ratios to libei (median of the per-round ratios, min..max):\n"
	nr = split("sql lua_do lua_fn go_free go_locked go_locked1", R, " ")
	for (i = 1; i <= nr; i++) {
		if (ratio(R[i], "", "libei") < 0) continue
		tgt = R[i] == "sql" ? sprintf("   target <= 1.3x: %s", verdict(rmed, 1.3)) : ""
		printf "  %-24s %5.2fx (%.2f..%.2f)%s\n", R[i] "/libei", rmed, rmin, rmax, tgt
		if ((R[i] == "sql" || R[i] == "lua_fn") && ratio(R[i], "select1", "libei") >= 0) {
			tgt = R[i] == "sql" ? sprintf("   target <= 1.3x: %s", verdict(rmed, 1.3)) : ""
			printf "  %-24s %5.2fx (%.2f..%.2f)%s\n", "(" R[i] "-select1)/libei", rmed, rmin, rmax, tgt
		}
	}
	if (ratio("sql", "", "go_locked") >= 0)
		printf "  %-24s %5.2fx (%.2f..%.2f)\n", "sql/go_locked", rmed, rmin, rmax
	# On a small VM each measurement settles into a "fast" mode (both ends on
	# one vCPU, or the peer spinning) or a "slow" one (every wake-up crosses
	# vCPUs: 50-60 us for anything, libei included), and which one is decided
	# per measurement. As shared/bench/erlang does: per implementation, rounds
	# within 1.5x of its best are fast, the others slow; compare fast with fast.
	printf "fast/slow split (per implementation: fast = within 1.5x of its best round):\n"
	printf "  %-10s %14s %14s\n", "impl", "fast: n median", "slow: n median"
	for (i = 1; i <= ni; i++) {
		nm = I[i]; if (!cnt[nm] || nm == "select1") continue
		best = -1
		for (k = 1; k <= cnt[nm]; k++) if (best < 0 || v[nm, k] < best) best = v[nm, k]
		delete f; delete sl; nf = 0; ns = 0
		for (k = 1; k <= cnt[nm]; k++) if (v[nm, k] <= 1.5 * best) f[++nf] = v[nm, k]; else sl[++ns] = v[nm, k]
		fm[nm] = nf ? median(f, nf) : 0; sm[nm] = ns ? median(sl, ns) : 0
		printf "  %-10s %3d %9.1f   %3d %9s\n", nm, nf, fm[nm], ns, ns ? sprintf("%.1f", sm[nm]) : "-"
	}
	if (fm["libei"] > 0) {
		printf "ratios of the fast medians (fast with fast):\n"
		for (i = 1; i <= nr; i++) if (fm[R[i]] > 0) {
			fr = fm[R[i]] / fm["libei"]
			tgt = R[i] == "sql" ? sprintf("   target <= 1.3x: %s", verdict(fr, 1.3)) : ""
			printf "  %-24s %5.2fx%s\n", R[i] "/libei", fr, tgt
		}
	}
}
