# bench/rowbench/first.awk: summary of first.txt ("what lang ms"); needs ../plbench/stats.awk.
{ k = $1 " " $2; n[k]++; v[k, n[k]] = $3; if (!(k in seen)) { seen[k] = 1; order[++no] = k } }
END {
	for (i = 1; i <= no; i++) {
		k = order[i]; delete a
		for (j = 1; j <= n[k]; j++) a[j] = v[k, j]
		m = median(a, n[k]); med[k] = m
		split(k, p, " ")
		what = p[1] == "do1" ? "first DO" : p[1] == "do2" ? "second DO" : p[1] == "fn1" ? "first call" : p[1] == "fn2" ? "second call" : \
			p[1] == "erl1" ? "first Erlang call (load+connect+call)" : p[1] == "erl2" ? "second Erlang call" : \
			p[1] == "load" ? "first DO (load)" : p[1] == "connect" ? "then erlang_ping (connect)" : "then first erlang.call"
		mark = ""
		if (p[2] == "plerl" && (p[1] == "do1" || p[1] == "fn1")) mark = "   target <= 2 ms: " verdict(m, 2)
		printf "  %-8s %-38s %7.2f (%5.2f..%6.2f)%s\n", p[2], what, m, amin(a, n[k]), amax(a, n[k]), mark
	}
	if (("erl1 plerl" in med) && ("connect plerl" in med))
		printf "  first Erlang call minus connect: %.2f ms (target <= 2 ms + connect: %s)\n", med["erl1 plerl"] - (med["connect plerl"] - med["erl2 plerl"]), \
			verdict(med["erl1 plerl"] - (med["connect plerl"] - med["erl2 plerl"]), 2)
}
