# bench/batch/cpu.awk: the backend's and the node's CPU per call from
# cpu.txt lines
#   <impl> <round> <backend us per call> <node us per call>
# (awk -f ../plbench/stats.awk -f cpu.awk cpu.txt)
	{ cnt[$1]++; v[$1, cnt[$1]] = $3; nv[$1, cnt[$1]] = $4 }
	END {
		printf "backend CPU per call, us (all its threads, user + system; less noisy than the wall time on a shared box): median (min..max)\n"
		ni = split("batch perrow batch_node perrow_node", I, " ")
		for (i = 1; i <= ni; i++) if (cnt[I[i]]) {
			delete a
			for (k = 1; k <= cnt[I[i]]; k++) a[k] = v[I[i], k]
			m[I[i]] = median(a, cnt[I[i]])
			printf "  %-12s %6.2f (%.2f..%.2f)\n", I[i], m[I[i]], amin(a, cnt[I[i]]), amax(a, cnt[I[i]])
		}
		if (m["batch"] > 0) printf "  perrow/batch CPU per call: %.2fx\n", m["perrow"] / m["batch"]
		printf "the Erlang node's CPU per call, us (its process, all threads): median (min..max)\n"
		for (i = 1; i <= ni; i++) if (cnt[I[i]]) {
			delete a
			for (k = 1; k <= cnt[I[i]]; k++) a[k] = nv[I[i], k]
			nm[I[i]] = median(a, cnt[I[i]])
			printf "  %-12s %6.2f (%.2f..%.2f)\n", I[i], nm[I[i]], amin(a, cnt[I[i]]), amax(a, cnt[I[i]])
		}
		if (nm["batch"] > 0)
			printf "  ceiling: the node alone, on a core of its own, answers at most %.0f batch calls/s (1e6 / its CPU per call)\n", 1e6 / nm["batch"]
	}
