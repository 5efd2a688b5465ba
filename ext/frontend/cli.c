/* The goheap command line:
 *   goheap [--json] [-o FILE] [--timings] (--core CORE [--exe BIN] | --pid PID) COMMAND [ARGS]
 * --timings prints each phase's wall time and memory on stderr after the
 * command (as JSON with --json).  Errors print one line "goheap: ..." on
 * stderr; exit status 1 for errors reading the target, 2 for usage errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../commands/commands.h"
#include "../util/strutil.h"
#include "../util/timings.h"

static int fail(struct gh_error *err)
{
	fprintf(stderr, "goheap: %s\n", err->msg);
	int code = err->code == GH_ERR_USAGE ? 2 : 1;
	gh_error_free(err);
	return code;
}

static const char usage[] =
	"usage: goheap [--json] [-o FILE] [--timings] (--core CORE [--exe BIN] | --pid PID | --exe BIN) COMMAND [ARGS]\n"
	"       goheap help [COMMAND]\n";

int main(int argc, char **argv)
{
	struct gh_open_opts oo = { 0 };
	enum gh_format fmt = GH_TEXT;
	const char *outpath = NULL;
	bool timings = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--json")) {
			fmt = GH_JSON;
		} else if (!strcmp(a, "--timings")) {
			timings = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--core") || !strcmp(a, "--exe") || !strcmp(a, "--pid") || !strcmp(a, "-o")) {
			if (!val)
				return fail(gh_errorf(GH_ERR_USAGE, "%s needs a value", a));
			i++;
			if (!strcmp(a, "--core"))
				oo.core = val;
			else if (!strcmp(a, "--exe"))
				oo.exe = val;
			else if (!strcmp(a, "-o"))
				outpath = val;
			else {
				uint64_t pid;
				if (!gh_parse_u64(val, &pid) || pid == 0 || pid > 0x7fffffff)
					return fail(gh_errorf(GH_ERR_USAGE, "--pid needs a process id, not '%s'", val));
				oo.pid = (int)pid;
			}
		} else {
			return fail(gh_errorf(GH_ERR_USAGE, "unknown option %s (try 'goheap --help')", a));
		}
	}
	if (i >= argc)
		return fail(gh_errorf(GH_ERR_USAGE, "no command given (try 'goheap --help')"));
	if (oo.core && oo.pid)
		return fail(gh_errorf(GH_ERR_USAGE, "give either --core or --pid, not both"));
	const struct gh_command *cmd = gh_command_find(argv[i]);
	if (!cmd)
		return fail(gh_errorf(GH_ERR_USAGE, "unknown command '%s' (try 'goheap help')", argv[i]));

	struct gh_program *prog = NULL;
	struct gh_error *err = NULL;
	gh_timings_reset(timings);
	if (cmd->needs_program) {
		if (!oo.core && !oo.pid && !oo.exe)
			return fail(gh_errorf(GH_ERR_USAGE, "'%s' needs a target: --core CORE [--exe BIN], --pid PID or --exe BIN",
					      cmd->name));
		double t0 = gh_phase_begin();
		if ((err = gh_program_open(&oo, &prog)))
			return fail(err);
		gh_phase_end("open", t0);
	}
	struct gh_out *out = gh_out_new();
	if (!out) {
		gh_program_close(prog);
		return fail(&gh_error_nomem);
	}
	double t0 = gh_phase_begin();
	err = gh_command_run(prog, argc - i, argv + i, out);
	gh_phase_end("command", t0);
	/* Resume a live target before writing output. */
	gh_program_close(prog);
	if (!err) {
		t0 = gh_phase_begin();
		FILE *f = stdout;
		if (outpath && !(f = fopen(outpath, "w")))
			err = gh_errorf(GH_ERR_IO, "cannot write %s: %s", outpath, strerror(errno));
		if (!err)
			err = gh_out_render(out, fmt, f);
		if (f && f != stdout && fclose(f) && !err)
			err = gh_errorf(GH_ERR_IO, "cannot write %s: %s", outpath, strerror(errno));
		gh_phase_end("output", t0);
	}
	gh_out_free(out);
	gh_timings_write(stderr, fmt == GH_JSON);
	return err ? fail(err) : 0;
}
