/* Live processes.  goheap stops every thread with PTRACE_SEIZE +
 * PTRACE_INTERRUPT (a stopped target cannot change under the reader), reads
 * registers with PTRACE_GETREGSET and memory through /proc/PID/mem opened
 * read-only, and resumes the threads when the target is closed.  It never
 * writes to the process. */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../util/strutil.h"
#include "target.h"
#include "target_internal.h"

static enum gh_arch host_arch(void)
{
#if defined(__x86_64__)
	return GH_ARCH_AMD64;
#elif defined(__aarch64__)
	return GH_ARCH_ARM64;
#else
	return GH_ARCH_UNKNOWN;
#endif
}

static struct gh_error *read_maps(struct gh_target *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/maps", t->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return gh_errorf(GH_ERR_IO, "cannot read %s: %s", path, strerror(errno));
	char line[4096];
	struct gh_error *err = NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		char perms[8];
		int pathpos = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pathpos) < 4)
			continue;
		char *name = pathpos ? line + pathpos : NULL;
		if (name) {
			name[strcspn(name, "\n")] = 0;
			if (!*name)
				name = NULL;
		}
		if (perms[0] == 'r') {
			struct gh_segment *s = gh_segvec_push(&t->primary);
			if (!s) {
				err = &gh_error_nomem;
				break;
			}
			s->start = start;
			s->end = end;
			s->src = GH_SRC_PROC;
			s->flags = (perms[0] == 'r' ? PF_R : 0) | (perms[1] == 'w' ? PF_W : 0) | (perms[2] == 'x' ? PF_X : 0);
			s->file_offset = off;
		}
		if (name && name[0] == '/') {
			struct gh_mapped_file *m = gh_filevec_push(&t->files);
			if (!m || !(m->path = gh_strdup(name))) {
				err = &gh_error_nomem;
				break;
			}
			m->start = start;
			m->end = end;
			m->offset = off;
		}
	}
	fclose(f);
	gh_segvec_sort(&t->primary);
	return err;
}

static struct gh_error *open_mem(struct gh_target *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", t->pid);
	t->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (t->mem_fd < 0)
		return gh_errorf(GH_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/exe", t->pid);
	char buf[4096];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		/* Read through /proc/PID/exe: it works even if the file was replaced. */
		t->exe_hint = gh_strdup(path);
		if (!t->exe_hint)
			return &gh_error_nomem;
	}
	return read_maps(t);
}

static bool is_attached(const struct gh_target *t, int64_t tid)
{
	for (size_t i = 0; i < t->threads.len; i++)
		if (t->threads.data[i].tid == tid)
			return true;
	return false;
}

/* Stops every thread; repeats until no new thread appears. */
static struct gh_error *attach_all(struct gh_target *t)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", t->pid);
	for (int round = 0; round < 100; round++) {
		DIR *d = opendir(path);
		if (!d)
			return gh_errorf(GH_ERR_IO, "no process %d (%s)", t->pid, strerror(errno));
		bool added = false;
		struct dirent *de;
		struct gh_error *err = NULL;
		while ((de = readdir(d)) && !err) {
			int tid = atoi(de->d_name);
			if (tid <= 0 || is_attached(t, tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0)) {
				if (errno == ESRCH)
					continue; /* exited meanwhile */
				err = gh_errorf(GH_ERR_IO, "cannot stop thread %d of process %d: %s%s", tid, t->pid,
						strerror(errno),
						errno == EPERM ? " (already traced by a debugger, or not permitted: use goheap inside that debugger, or run as the process owner/root)" : "");
				break;
			}
			struct gh_regs none = { .arch = t->arch };
			if ((err = gh_target_add_thread(t, tid, &none))) {
				ptrace(PTRACE_DETACH, tid, 0, 0);
				break;
			}
			t->attached = true;
			if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
				int st;
				waitpid(tid, &st, __WALL);
			}
			added = true;
		}
		closedir(d);
		if (err)
			return err;
		if (!added)
			break;
	}
	for (size_t i = 0; i < t->threads.len; i++) {
		struct gh_thread *th = &t->threads.data[i];
		uint64_t buf[GH_MAX_REGS] = { 0 };
		struct iovec iov = { buf, sizeof(buf) };
		if (ptrace(PTRACE_GETREGSET, (pid_t)th->tid, (void *)NT_PRSTATUS, &iov) == 0)
			gh_regs_from_kernel(&th->regs, t->arch, buf, iov.iov_len);
	}
	return NULL;
}

void gh_target_detach(struct gh_target *t)
{
	for (size_t i = 0; i < t->threads.len; i++)
		ptrace(PTRACE_DETACH, (pid_t)t->threads.data[i].tid, 0, 0);
	t->attached = false;
}

struct gh_error *gh_target_open_pid(int pid, struct gh_target **out)
{
	if (pid <= 0)
		return gh_errorf(GH_ERR_USAGE, "invalid process id %d", pid);
	struct gh_target *t = gh_target_alloc(GH_TARGET_LIVE);
	if (!t)
		return &gh_error_nomem;
	t->pid = pid;
	t->arch = host_arch();
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", pid);
	struct gh_error *err = NULL;
	if (!(t->path = gh_strdup(path)))
		err = &gh_error_nomem;
	if (!err)
		err = attach_all(t);
	if (!err)
		err = open_mem(t);
	if (err) {
		gh_target_close(t);
		return err;
	}
	*out = t;
	return NULL;
}

struct gh_error *gh_target_open_stopped_pid(int pid, enum gh_arch arch, struct gh_target **out)
{
	struct gh_target *t = gh_target_alloc(GH_TARGET_LIVE);
	if (!t)
		return &gh_error_nomem;
	t->pid = pid;
	t->arch = arch;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d", pid);
	struct gh_error *err = NULL;
	if (!(t->path = gh_strdup(path)))
		err = &gh_error_nomem;
	if (!err)
		err = open_mem(t);
	if (err) {
		gh_target_close(t);
		return err;
	}
	*out = t;
	return NULL;
}
