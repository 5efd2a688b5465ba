/* Phase timings (--timings): the wall time of each phase a command runs —
 * opening the target, enumerating the heap, typing it, the graph, the
 * dominators, the output — and the process's anonymous memory as each one
 * ends, recorded from any thread.  Off unless a front end turns it on for a
 * command; a phase then costs one branch. */
#ifndef GH_TIMINGS_H
#define GH_TIMINGS_H

#include <stdbool.h>
#include <stdio.h>

/* Forgets the phases recorded so far and starts the clock (on) or stops
 * recording (off); a front end calls it before each command. */
void gh_timings_reset(bool on);
bool gh_timings_on(void);

/* The clock at a phase's start (0 when off)... */
double gh_phase_begin(void);
/* ...and its end: name (a string literal) took the time since t0. */
void gh_phase_end(const char *name, double t0);

/* The phases recorded since the reset, by start, as a table or as one JSON
 * object; nothing when off. */
void gh_timings_write(FILE *f, bool json);

#endif
