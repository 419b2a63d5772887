/*
 * bench/goinit/harness.c: load plerl_go.so outside PostgreSQL the way
 * src/plerl.c's plerl_load_go does (signals blocked, 512 kB default thread
 * stacks, RTLD_NOW | RTLD_GLOBAL as PostgreSQL's dlopen), then wait for Go's
 * runtime to finish starting (the first cgo call into the library blocks
 * until it has), and print both times. PostgreSQL's symbols come from a stub
 * library (bench/goinit/run generates it); nothing here calls them. Not
 * shipped: a tool to see what Go's start spends its time on, with
 * GODEBUG=inittrace=1 (visible here, unlike in a backend) or under perf.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Page faults of the whole process so far (Go's threads included). */
static long
faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

int
main(int argc, char **argv)
{
	sigset_t	block,
				saved;
	pthread_attr_t attr;
	void	   *h;
	void		(*xact_end) (void);
	double		t0,
				t1,
				t2;
	long		f0,
				f1,
				f2;
	int			sigs[] = {SIGINT, SIGTERM, SIGQUIT, SIGALRM, SIGUSR1, SIGUSR2,
	SIGHUP, SIGURG, SIGCHLD, SIGPIPE};

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s /path/to/plerl_go.so\n", argv[0]);
		return 2;
	}
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	if (pthread_attr_init(&attr) == 0)
	{
		pthread_attr_setstacksize(&attr, 512 * 1024);
		pthread_setattr_default_np(&attr);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	f0 = faults();
	t0 = now_ms();
	h = dlopen(argv[1], RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL)
	{
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	t1 = now_ms();
	f1 = faults();
	/* Returns at once when no set-returning call is open. */
	xact_end = (void (*) (void)) dlsym(h, "plerlGoXactEnd");
	if (xact_end == NULL)
	{
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	xact_end();
	t2 = now_ms();
	f2 = faults();
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	printf("dlopen %.3f ms, wait for Go's start %.3f ms, total %.3f ms; page faults %ld %ld\n",
		   t1 - t0, t2 - t1, t2 - t0, f1 - f0, f2 - f1);
	return 0;
}
