#include "threads.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

unsigned gh_threads(void)
{
	const char *env = getenv("GOHEAP_THREADS");
	if (env && *env) {
		char *end;
		unsigned long n = strtoul(env, &end, 10);
		if (!*end && n >= 1 && n <= 1024)
			return (unsigned)n;
	}
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 1 ? (unsigned)(cpus < 1024 ? cpus : 1024) : 1;
}

bool gh_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	bool ok = pthread_create(th, NULL, fn, arg) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}
