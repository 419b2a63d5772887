# bench/batch/summary.awk: the batch benchmark's summary from times.txt lines
#   <impl> <round> <rows per second>
# (awk -v rounds=.. -v n=.. -f ../plbench/stats.awk -f summary.awk times.txt)
NF == 3 { t[$1, $2] = $3; cnt[$1]++; v[$1, cnt[$1]] = $3 }
# median (min..max) over rounds of t[num] / t[den] (a speed-up: rows/s over rows/s)
function ratio(num, den,    r, k) {
	delete a; k = 0
	for (r = 1; r <= rounds; r++)
		if ((num, r) in t && (den, r) in t) a[++k] = t[num, r] / t[den, r]
	if (!k) return -1
	rmed = median(a, k); rmin = amin(a, k); rmax = amax(a, k)
	return rmed
}
function atleast(x, target) { return x >= target ? "MET" : "NOT MET" }
END {
	printf "\n== N = %d calls per measurement, %d rounds: rows/s, median over rounds (min..max)\n", n, rounds
	what["batch"] = "erlang_call_many erlang:abs/1, one batch"
	what["perrow"] = "erlang_call erlang:abs/1 per row"
	what["batch_node"] = "erlang_call_many erlang:node/0, one batch"
	what["perrow_node"] = "erlang_call erlang:node/0 per row"
	what["libei"] = "cnode_bench: sequential ei_rpc erlang:node()"
	ni = split("batch perrow batch_node perrow_node libei", I, " ")
	for (i = 1; i <= ni; i++) if (cnt[I[i]]) {
		delete a
		for (k = 1; k <= cnt[I[i]]; k++) a[k] = v[I[i], k]
		printf "%-12s %9.0f  %8.0f..%-8.0f  %s\n", I[i], median(a, cnt[I[i]]), amin(a, cnt[I[i]]), amax(a, cnt[I[i]]), what[I[i]]
	}
	printf "speed-ups (median of the per-round ratios, min..max):\n"
	if (ratio("batch", "perrow") > 0)
		printf "  batch/perrow            %5.2fx (%.2f..%.2f)   target >= 8x: %s\n", rmed, rmin, rmax, atleast(rmed, 8)
	if (ratio("batch", "libei") > 0)
		printf "  batch/libei             %5.2fx (%.2f..%.2f)   target >= 5x: %s\n", rmed, rmin, rmax, atleast(rmed, 5)
	if (ratio("batch_node", "perrow_node") > 0)
		printf "  batch_node/perrow_node  %5.2fx (%.2f..%.2f)\n", rmed, rmin, rmax
	if (ratio("batch_node", "libei") > 0)
		printf "  batch_node/libei        %5.2fx (%.2f..%.2f)   (the same function on both sides)\n", rmed, rmin, rmax
	if (ratio("perrow_node", "libei") > 0)
		printf "  perrow_node/libei       %5.2fx (%.2f..%.2f)\n", rmed, rmin, rmax
}
