# bench/plbench/perfcat.awk: group a flat perf profile into cost centres.
# Input: `perf report --no-children --sort dso,symbol -g none --stdio` lines
#   "  4.59%  plerl_go.so  [.] github.com/yuin/gopher-lua.mainLoopWithContext"
# Output: one line per category, largest first, with its top symbols.
function cat_of(dso, sym) {
	if (dso ~ /kernel/) return "kernel (syscalls, scheduling, network stack)"
	if (dso ~ /^libc/) return "libc (memcpy, ...)"
	if (dso ~ /^postgres/) return "postgres (executor, tuplestore, fmgr, ...)"
	if (dso ~ /^plerl\.so/) return "plerl.so (C shim)"
	if (dso !~ /plerl_go/) return "other: " dso
	if (sym ~ /^github\.com\/yuin\/gopher-lua/) return "gopher-lua VM (call setup, interpreter loop)"
	if (sym ~ /^github\.com\/plerl\/plerl\/runtime\/pl/) return "plerl Go runtime/pl (engine, states, values)"
	if (sym ~ /^github\.com\/plerl\/plerl\/runtime\/dist/) return "plerl Go runtime/dist (distribution client)"
	if (sym ~ /^github\.com\/plerl\/plerl\/runtime\/term/) return "plerl Go runtime/term (terms, JSON)"
	if (sym ~ /^main\./) return "plerl Go handler (main.*: exports, value conversion)"
	if (sym ~ /^runtime\.(mallocgc|gc|scan|mark|sweep|heap|memclr|bulkBarrier|wbBuf|greyobject|findObject|nextFree|mspan|mcache|\(\*mheap|\(\*mspan|\(\*mcentral|\(\*gcWork|\(\*sweep|newobject|makeslice|growslice|typedmemmove|memmove|spanOf|writeHeapBits|tryDefer|scanblock|scanSpan|\(\*spanSet|\(\*mcache|\(\*gcControllerState|publicationBarrier|deductAssist|gcAssist)/)
		return "Go allocation + GC"
	if (sym ~ /^runtime\.(cgo|reentersyscall|exitsyscall|entersyscall|lockOSThread|unlockOSThread|lock2|unlock2|lockWithRank|unlockWithRank|gorecover|asmcgocall|needm|dropm|casgstatus|save|systemstack|deferreturn|deferprocStack|callbackUpdateSystemStack|getg|load_g|save_g|mcall|gogo|morestack|nanotime|procyield|osyield|\(\*_panic)|^_cgo|^crosscall|^x_cgo/)
		return "cgo transition (C->Go callback, syscall state, OS-thread lock)"
	if (sym ~ /^runtime\.(chan|selectnbrecv|empty$|selectgo|send|recv|gopark|goready|ready|park|schedule|findRunnable|runqget|runqput|wakep|startm|stopm|notesleep|notewakeup|futex|handoffp|acquirep|releasep|netpoll|execute|resetspinning|checkTimers|\(\*timer|\(\*timers|mPark|injectglist|stealWork|lock|unlock)/)
		return "Go scheduler, channels, timers (futex, netpoll, chanrecv)"
	if (sym ~ /^runtime\./) return "Go runtime, other"
	if (sym ~ /^context\./) return "context checks (ctx.Done/Err)"
	if (sym ~ /^(time|sync)\./) return "Go time/sync"
	if (sym ~ /^(encoding|crypto|strconv|unicode|math|bytes|strings|fmt|sort|slices|maps|hash|internal|reflect|errors)[\/.]/) {
		p = sym; sub(/\..*/, "", p); return "Go stdlib: " p
	}
	if (sym ~ /\./) return "Go other"
	return "plerl C glue in plerl_go.so (entry.c, types.c, erlang.c, guards)"
}
/^ *[0-9.]+%/ {
	pct = $1; sub(/%/, "", pct); pct += 0
	dso = $2
	sym = $0; sub(/^.*\[[.k]\] /, "", sym); sub(/ +$/, "", sym); sub(/ +- +- *$/, "", sym); sub(/ +$/, "", sym)
	c = cat_of(dso, sym)
	tot[c] += pct; all += pct
	if (nsym[c] < 4) { nsym[c]++; syms[c] = syms[c] (nsym[c] > 1 ? ", " : "") sprintf("%s %.1f", sym, pct) }
}
END {
	n = 0
	for (c in tot) { n++; name[n] = c }
	for (i = 2; i <= n; i++) { v = name[i]; for (j = i - 1; j >= 1 && tot[name[j]] < tot[v]; j--) name[j + 1] = name[j]; name[j + 1] = v }
	for (i = 1; i <= n; i++) printf "%5.1f%%  %s\n        top: %s\n", tot[name[i]], name[i], syms[name[i]]
	printf "(%.1f%% of samples categorised)\n", all
}
