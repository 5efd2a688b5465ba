/* Threads for goheap's parallel passes. */
#ifndef GH_THREADS_H
#define GH_THREADS_H

#include <pthread.h>
#include <stdbool.h>

/* How many threads goheap may use: one per online CPU, or GOHEAP_THREADS
 * when set to a positive number (1: everything on the calling thread). */
unsigned gh_threads(void);

/* Starts fn(arg) on a new thread that takes no signals, so that a debugger
 * hosting goheap keeps its own (SIGINT, SIGCHLD) on its threads.  False if
 * the thread cannot be started. */
bool gh_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif
