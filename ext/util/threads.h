/* Threads for goheap's parallel passes. */
#ifndef GH_THREADS_H
#define GH_THREADS_H

#include <pthread.h>
#include <stdbool.h>

/* How many threads goheap may use: one per online CPU, or GOHEAP_THREADS
 * when set to a positive number (1: everything on the calling thread),
 * less those reserved (at least 1). */
unsigned gh_threads(void);
/* Reserves n CPUs (a negative n gives them back) for a thread that runs
 * beside other passes, so that those passes split their work one way fewer. */
void gh_threads_reserve(int n);

/* Starts fn(arg) on a new thread that takes no signals, so that a debugger
 * hosting goheap keeps its own (SIGINT, SIGCHLD) on its threads.  False if
 * the thread cannot be started. */
bool gh_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

/* A short sleep (20 µs) for a thread waiting on another that works in
 * batches: long enough not to burn the CPU the other may need, short
 * against a batch. */
void gh_thread_pause(void);

#define GH_MAX_PARTS 4
/* How many parts to split work into: one per thread goheap may use (up to
 * GH_MAX_PARTS) when it is worth threads and safe, else 1. */
unsigned gh_parts(bool worth_it);
/* Runs fn on parts 1..n-1 (n at most GH_MAX_PARTS, each part size bytes
 * after the one before) in threads and on part 0 here; a part whose thread
 * cannot start runs here too.  Returns when all are done. */
void gh_run_parts(void *parts, size_t size, unsigned n, void *(*fn)(void *));

#endif
