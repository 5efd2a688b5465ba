/* Finding runtime globals in executables without symbols or DWARF.
 *
 * runtime.mheap_ lives in .bss; a word-aligned candidate is accepted only if,
 * read with the release's layout, it is a heap: its arena list is a sane
 * slice, the first listed arena has a heapArena record, and that arena's
 * first in-use page is owned by an in-use mspan starting exactly there.
 * Measured on every release and architecture of the corpus: exactly one
 * candidate passes, the symbol's address.  runtime.allp likewise (see
 * gh_locate_allp). */
#include <stdlib.h>
#include <string.h>

#include "locate.h"

static bool is_mheap(struct gh_program *p, uint64_t c, const uint8_t *word_arenas, const uint8_t *word_list)
{
	const struct gh_layout *L = &p->L;
	struct gh_target *t = p->t;
	uint64_t l2arr, list[3];
	memcpy(&l2arr, word_arenas, 8);
	memcpy(list, word_list, 24);
	uint64_t l2bits = (uint64_t)L->c.arenaL2Bits.v, maxn = 1ull << l2bits;
	if (!l2arr || !list[0] || list[1] == 0 || list[1] > list[2] || list[2] >= maxn)
		return false;
	uint64_t ai, ha;
	if (!gh_read_u64(t, list[0], &ai) || ai >= maxn || !gh_read_u64(t, l2arr + 8 * ai, &ha) || !ha)
		return false;
	uint64_t page = (uint64_t)L->c.pageSize.v, abytes = (uint64_t)L->c.heapArenaBytes.v;
	uint64_t npages = abytes / page;
	uint8_t inuse[1024];
	if (npages / 8 > sizeof(inuse) || !gh_read(t, ha + (uint64_t)L->heapArena.pageInUse.off, inuse, npages / 8))
		return false;
	for (uint64_t pg = 0; pg < npages; pg++) {
		if (!((inuse[pg / 8] >> (pg % 8)) & 1))
			continue;
		uint64_t ms, state, start;
		if (!gh_read_u64(t, ha + (uint64_t)L->heapArena.spans.off + 8 * pg, &ms) || !ms ||
		    !gh_read_field(p, ms, &L->mspan.state, &state) || !gh_read_field(p, ms, &L->mspan.startAddr, &start))
			return false;
		return state == (uint64_t)L->c.mSpanInUse.v && start == ai * abytes + L->arenaBaseOffset + pg * page;
	}
	return false;
}

static bool scan_mheap(struct gh_program *p, uint64_t start, uint64_t end, uint64_t *found)
{
	const struct gh_layout *L = &p->L;
	uint64_t oa = (uint64_t)L->mheap.arenas.off, ol = (uint64_t)L->mheap.allArenas.off;
	uint64_t need = (oa > ol ? oa + 8 : ol + 24);
	if (end <= start || end - start < need || end - start > (1ull << 30))
		return false;
	size_t n = (size_t)(end - start);
	uint8_t *buf = malloc(n);
	if (!buf)
		return false;
	bool ok = false;
	/* The section may straddle unreadable pages: read what can be read. */
	for (size_t off = 0; off < n; off += 4096) {
		size_t k = n - off < 4096 ? n - off : 4096;
		if (!gh_read(p->t, start + off, buf + off, k))
			memset(buf + off, 0, k);
	}
	uint64_t hits = 0, first = 0;
	for (uint64_t c = 0; c + need <= n; c += 8)
		if (is_mheap(p, start + c, buf + c + oa, buf + c + ol) && hits++ == 0)
			first = start + c;
	free(buf);
	if (hits == 1) {
		*found = first;
		ok = true;
	}
	return ok;
}

void gh_locate_runtime_globals(struct gh_program *p)
{
	struct gh_layout *L = &p->L;
	if (L->v.mheap_.have) {
		p->mheap_from = "symbol or DWARF";
		return;
	}
	if (L->mheap.arenas.off < 0 || L->mheap.allArenas.off < 0 || L->heapArena.pageInUse.off < 0 ||
	    L->heapArena.spans.off < 0 || !L->c.pageSize.have || !L->c.heapArenaBytes.have || !L->c.arenaL2Bits.have ||
	    !L->c.mSpanInUse.have || p->t->kind == GH_TARGET_EXE_ONLY)
		return;
	static const char *const secs[] = { ".bss", ".noptrbss" };
	for (size_t i = 0; i < 2; i++) {
		const struct gh_exe_section *s = gh_exe_section(p->exe, secs[i]);
		uint64_t a;
		if (s && scan_mheap(p, s->addr + p->exe->bias, s->addr + p->exe->bias + s->size, &a)) {
			L->v.mheap_.have = true;
			L->v.mheap_.addr = a;
			p->mheap_from = i ? "scan of .noptrbss" : "scan of .bss";
			return;
		}
	}
}

/* A []*p at words w: every element (the first 64 checked) a P whose id is
 * its index, with a status up to _Pdead, an mcache unless dead, and, if an
 * M holds it, that M's p pointing back. */
static bool is_allp(struct gh_program *p, const uint64_t w[3])
{
	const struct gh_layout *L = &p->L;
	if (!w[0] || (w[0] & 7) || !w[1] || w[1] > w[2] || w[2] > (1u << 16))
		return false;
	for (uint64_t i = 0; i < w[1] && i < 64; i++) {
		uint64_t pp, id, status, mc, m, back;
		if (!gh_read_u64(p->t, w[0] + 8 * i, &pp) || !pp || (pp & 7) || !gh_read_field(p, pp, &L->p.id, &id) ||
		    (uint32_t)id != i || !gh_read_field(p, pp, &L->p.status, &status) || status > (uint64_t)L->c.pDead.v ||
		    !gh_read_field(p, pp, &L->p.mcache, &mc) || !gh_read_field(p, pp, &L->p.m, &m))
			return false;
		if ((status != (uint64_t)L->c.pDead.v && !mc) ||
		    (m && (!gh_read_field(p, m, &L->m.p, &back) || back != pp)))
			return false;
	}
	return true;
}

void gh_locate_scan_slices(struct gh_program *p, const char *section, gh_slice_fn fn, void *arg)
{
	const struct gh_exe_section *s = gh_exe_section(p->exe, section);
	if (!s || s->size > (1ull << 30))
		return;
	uint64_t start = s->addr + p->exe->bias;
	uint8_t buf[4096 + 16];
	for (uint64_t off = 0; off < s->size; off += 4096) {
		size_t k = s->size - off < 4096 ? (size_t)(s->size - off) : 4096;
		size_t got = k + 16 <= s->size - off ? k + 16 : k;
		if (!gh_read(p->t, start + off, buf, got))
			continue;
		for (size_t c = 0; c + 24 <= got && c < k; c += 8) {
			uint64_t w[3];
			memcpy(w, buf + c, 24);
			fn(arg, start + off + c, w);
		}
	}
}

struct allp_scan {
	struct gh_program *p;
	uint64_t hits, addr, first[3];
};

static void allp_candidate(void *arg, uint64_t addr, const uint64_t w[3])
{
	struct allp_scan *a = arg;
	/* 1.26+ keeps a copy in m.allpSnapshot (m0 is in .bss): a candidate
	 * naming the same Ps as the first is no rival. */
	if (!is_allp(a->p, w) || (a->hits && w[0] == a->first[0] && w[1] == a->first[1]))
		return;
	if (a->hits++ == 0) {
		a->addr = addr;
		memcpy(a->first, w, sizeof(a->first));
	}
}

bool gh_locate_allp(struct gh_program *p, uint64_t *addr, const char **from)
{
	const struct gh_layout *L = &p->L;
	if (L->v.allp.have) {
		*addr = L->v.allp.addr;
		*from = "symbol runtime.allp";
		return true;
	}
	if (L->p.id.off < 0 || L->p.status.off < 0 || L->p.mcache.off < 0 || L->p.m.off < 0 || L->m.p.off < 0 ||
	    !L->c.pDead.have)
		return false;
	struct allp_scan a = { .p = p };
	gh_locate_scan_slices(p, ".bss", allp_candidate, &a);
	*from = "scan of .bss for a validated []*p";
	*addr = a.addr;
	return a.hits == 1;
}
