/* goheap memory: raw target bytes and where they come from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/strutil.h"
#include "commands.h"

#define MAX_SIZE 4096

struct gh_error *gh_cmd_memory(struct gh_program *p, int argc, char **argv, struct gh_out *o)
{
	uint64_t size = 16;
	bool keep_going = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (!gh_parse_u64(argv[++i], &size) || size == 0 || size > MAX_SIZE)
				return gh_errorf(GH_ERR_USAGE, "--size takes 1 to %d bytes", MAX_SIZE);
		} else if (!strcmp(argv[i], "--keep-going")) {
			keep_going = true;
		} else {
			return gh_errorf(GH_ERR_USAGE, "usage: memory [--size N] [--keep-going] ADDR...");
		}
	}
	if (i == argc)
		return gh_errorf(GH_ERR_USAGE, "usage: memory [--size N] [--keep-going] ADDR...");
	struct gh_node *t = gh_put_table(gh_out_root(o), "memory");
	uint8_t buf[MAX_SIZE];
	char hex[MAX_SIZE * 3 + 1];
	for (; i < argc; i++) {
		uint64_t addr;
		if (!gh_parse_u64(argv[i], &addr))
			return gh_errorf(GH_ERR_USAGE, "not an address: '%s'", argv[i]);
		struct gh_node *row = gh_table_row(t);
		gh_put_addr(row, "address", addr);
		if (!gh_read(p->t, addr, buf, size)) {
			if (!keep_going)
				return gh_read_err(p->t, addr, buf, size);
			gh_put_null(row, "source");
			gh_put_null(row, "bytes");
			continue;
		}
		const struct gh_segment *s = gh_segment_at(p->t, addr);
		gh_put_str(row, "source", s ? gh_source_name(s->src) : "?");
		for (uint64_t k = 0; k < size; k++)
			snprintf(hex + 3 * k, 4, "%02x%s", buf[k], k + 1 < size ? " " : "");
		gh_put_str(row, "bytes", hex);
	}
	return NULL;
}
