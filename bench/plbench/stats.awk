# bench/plbench/stats.awk: helpers shared by the benchmark summaries (mawk-safe).
# Included with awk -f stats.awk -f summary.awk.

# median of a[1..n] (sorts a in place)
function isort(a, n,    i, j, v) {
	for (i = 2; i <= n; i++) {
		v = a[i]
		for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
		a[j + 1] = v
	}
}
function median(a, n) {
	isort(a, n)
	if (n == 0) return 0
	if (n % 2) return a[(n + 1) / 2]
	return (a[n / 2] + a[n / 2 + 1]) / 2
}
# after median(): a is sorted
function amin(a, n) { return a[1] }
function amax(a, n) { return a[n] }
function verdict(x, target) { return x <= target ? "MET" : "NOT MET" }
