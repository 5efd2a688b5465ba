#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timings.h"

#define MAX_PHASES 64

struct phase {
	const char *name;
	double start, seconds;
	long anon_kib; /* -1: unknown */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool on;
static double t_zero;
static struct phase phases[MAX_PHASES];
static unsigned nphases, dropped;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* RssAnon from /proc/self/status: the process's own memory, not the
 * target's pages mapped from the page cache. */
static long anon_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long kib = -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "RssAnon:", 8)) {
			kib = strtol(line + 8, NULL, 10);
			break;
		}
	fclose(f);
	return kib;
}

void gh_timings_reset(bool enable)
{
	pthread_mutex_lock(&lock);
	nphases = dropped = 0;
	t_zero = now();
	__atomic_store_n(&on, enable, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lock);
}

bool gh_timings_on(void) { return __atomic_load_n(&on, __ATOMIC_RELAXED); }

double gh_phase_begin(void) { return gh_timings_on() ? now() : 0; }

void gh_phase_end(const char *name, double t0)
{
	if (!gh_timings_on())
		return;
	double t = now();
	long kib = anon_kib();
	pthread_mutex_lock(&lock);
	if (nphases < MAX_PHASES)
		phases[nphases++] = (struct phase){ name, t0 - t_zero, t - t0, kib };
	else
		dropped++;
	pthread_mutex_unlock(&lock);
}

static int by_start(const void *a, const void *b)
{
	const struct phase *x = a, *y = b;
	return (x->start > y->start) - (x->start < y->start);
}

void gh_timings_write(FILE *f, bool json)
{
	if (!gh_timings_on())
		return;
	pthread_mutex_lock(&lock);
	struct phase p[MAX_PHASES];
	unsigned n = nphases, lost = dropped;
	memcpy(p, phases, n * sizeof(p[0]));
	double total = now() - t_zero;
	pthread_mutex_unlock(&lock);
	qsort(p, n, sizeof(p[0]), by_start);
	if (json) {
		fprintf(f, "{\"seconds\": %.6f, \"phases\": [", total);
		for (unsigned i = 0; i < n; i++) {
			fprintf(f, "%s{\"phase\": \"%s\", \"start\": %.6f, \"seconds\": %.6f, \"anon_bytes\": ", i ? ", " : "",
				p[i].name, p[i].start, p[i].seconds);
			if (p[i].anon_kib < 0)
				fputs("null}", f);
			else
				fprintf(f, "%lld}", (long long)p[i].anon_kib * 1024);
		}
		fprintf(f, "], \"phases_not_recorded\": %u}\n", lost);
		return;
	}
	fprintf(f, "timings (seconds from the command's start; the process's anonymous memory as each phase ends):\n");
	fprintf(f, "  %-28s %8s %8s %10s\n", "phase", "start", "seconds", "anon MiB");
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "  %-28s %8.3f %8.3f ", p[i].name, p[i].start, p[i].seconds);
		if (p[i].anon_kib < 0)
			fprintf(f, "%10s\n", "-");
		else
			fprintf(f, "%10.1f\n", (double)p[i].anon_kib / 1024);
	}
	fprintf(f, "  %-28s %8.3f %8.3f\n", "total", 0.0, total);
	if (lost)
		fprintf(f, "  (%u more phases not recorded)\n", lost);
}
