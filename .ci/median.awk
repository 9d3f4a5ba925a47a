# Medians of the metrics of a benchmark run with -count N: prints, per unit,
# the median and the range over the runs (the figures the README quotes).
# Works with mawk (Debian's awk): no arrays of arrays, no asort.
/^Benchmark/ {
	runs++
	for (i = 3; i < NF; i += 2) {
		unit = $(i + 1)
		if (!(unit in seen)) { seen[unit] = 1; units[++nu] = unit }
		val[unit, runs] = $i
	}
}
END {
	if (runs == 0) { print "no benchmark lines"; exit 1 }
	printf "median of %d runs:\n", runs
	for (u = 1; u <= nu; u++) {
		unit = units[u]
		n = 0
		for (r = 1; r <= runs; r++) if ((unit, r) in val) a[++n] = val[unit, r] + 0
		for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		printf "  %-16s %12.4g   (%g to %g)\n", unit, m, a[1], a[n]
	}
}
