/* sync.Map decoded from the target, both implementations:
 *  - read/dirty (Go ≤ 1.23, 1.24 nosynchashtriemap): an atomic pointer to a
 *    readOnly{m map[any]*entry, amended}, a dirty map[any]*entry, entries
 *    whose p is nil (deleted) or sync.expunged (deleted, not in dirty);
 *  - internal/sync.HashTrieMap[any, any] (1.24+): a 16-way trie of
 *    indirect nodes whose leaves are entries with overflow chains.
 * Which one a binary uses is read from the layout (sync.Map's fields). */
#ifndef GH_GOSTRUCTS_SYNCMAP_H
#define GH_GOSTRUCTS_SYNCMAP_H

#include "maps.h"

struct gh_syncmap_stats {
	bool trie;            /* HashTrieMap */
	uint64_t len;         /* live entries */
	uint64_t deleted;     /* read/dirty: entries kept with p == nil */
	uint64_t expunged;    /* read/dirty: read entries with p == expunged */
	bool amended;         /* read/dirty: dirty holds keys read lacks */
	uint64_t read_len, dirty_len; /* read/dirty: entries of each map */
	uint64_t nodes, max_depth;    /* trie: indirect nodes and deepest level */
	uint64_t bytes;       /* heap slots: maps, readOnly, entries, value boxes; trie nodes and entries */
	uint32_t nwarnings;
	char warnings[GH_MAP_WARNINGS][160];
};

/* key and value are the addresses of `any` values (type word, data word). */
typedef bool (*gh_syncmap_fn)(void *arg, uint64_t key, uint64_t value);

/* Walks the sync.Map at addr (a global, a field, a heap object).  h may be
 * NULL (no bytes).  fn may be NULL. */
struct gh_error *gh_syncmap_walk(struct gh_program *p, struct gh_heap *h, struct gh_types *T, uint64_t addr,
				 gh_syncmap_fn fn, void *arg, struct gh_syncmap_stats *st);

/* Whether the program's sync.Map is known to goheap's layout at all. */
bool gh_syncmap_supported(const struct gh_program *p);

#endif
