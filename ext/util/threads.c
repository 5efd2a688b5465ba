#include "threads.h"

#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int reserved;

void gh_threads_reserve(int n)
{
	__atomic_add_fetch(&reserved, n, __ATOMIC_RELAXED);
}

static unsigned configured(void)
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

unsigned gh_threads(void)
{
	unsigned n = configured();
	int r = __atomic_load_n(&reserved, __ATOMIC_RELAXED);
	return r <= 0 ? n : (unsigned)r < n ? n - (unsigned)r : 1;
}

void gh_thread_pause(void)
{
	struct timespec pause = { 0, 20000 };
	nanosleep(&pause, NULL);
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

void gh_run_parts(void *parts, size_t size, unsigned n, void *(*fn)(void *))
{
	pthread_t th[GH_MAX_PARTS];
	bool started[GH_MAX_PARTS] = { false };
	char *at = parts;
	for (unsigned i = 1; i < n && i < GH_MAX_PARTS; i++)
		started[i] = gh_thread_start(&th[i], fn, at + i * size);
	fn(parts);
	for (unsigned i = 1; i < n && i < GH_MAX_PARTS; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			fn(at + i * size);
	}
}

unsigned gh_parts(bool worth_it)
{
	unsigned n = worth_it ? gh_threads() : 1;
	return n < GH_MAX_PARTS ? n : GH_MAX_PARTS;
}
