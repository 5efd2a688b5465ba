#include <string.h>

#include "pclntab.h"

#define PCLN_MAGIC_GO120 0xfffffff1u
/* _func field offsets (identical Go 1.20 through 1.27). */
#define FUNC_ENTRYOFF 0
#define FUNC_NAMEOFF 4
#define FUNC_ARGS 8
#define FUNC_PCFILE 20
#define FUNC_PCLN 24
#define FUNC_CUOFF 32
#define FUNC_FUNCID 40
#define FUNC_FLAG 41
#define FUNC_SIZE 44

static bool get(const struct gh_pclntab *p, uint64_t off, void *out, size_t n)
{
	if (off > p->size || n > p->size - off)
		return false;
	memcpy(out, p->data + off, n);
	return true;
}

static uint64_t u64at(const uint8_t *d)
{
	uint64_t v;
	memcpy(&v, d, 8);
	return v;
}

static struct gh_error *parse(struct gh_pclntab *p)
{
	if (p->size < 72)
		return gh_errorf(GH_ERR_FORMAT, "pclntab too small (%zu bytes)", p->size);
	uint32_t magic;
	memcpy(&magic, p->data, 4);
	if (magic == 0xfffffff0u || magic == 0xfffffffau || magic == 0xfffffffbu)
		return gh_errorf(GH_ERR_UNSUPPORTED, "pclntab of a Go older than 1.20 (magic 0x%x)", magic);
	if (magic != PCLN_MAGIC_GO120)
		return gh_errorf(GH_ERR_FORMAT, "pclntab has unknown magic 0x%x", magic);
	if (p->data[7] != 8)
		return gh_errorf(GH_ERR_UNSUPPORTED, "pclntab pointer size %u; goheap reads 64-bit programs", p->data[7]);
	p->quantum = p->data[6];
	p->nfunc = u64at(p->data + 8);
	p->nfiles = u64at(p->data + 16);
	p->funcname_off = u64at(p->data + 32);
	p->cu_off = u64at(p->data + 40);
	p->filetab_off = u64at(p->data + 48);
	p->pctab_off = u64at(p->data + 56);
	p->pcln_off = u64at(p->data + 64);
	if (p->quantum != 1 && p->quantum != 4)
		return gh_errorf(GH_ERR_FORMAT, "pclntab has PC quantum %u", p->quantum);
	uint64_t offs[] = { p->funcname_off, p->cu_off, p->filetab_off, p->pctab_off, p->pcln_off };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		if (offs[i] > p->size)
			return gh_errorf(GH_ERR_FORMAT, "pclntab header offset %zu out of range", i);
	if (p->nfunc == 0 || p->nfunc > (p->size - p->pcln_off) / 8 - 1)
		return gh_errorf(GH_ERR_FORMAT, "pclntab function count %llu out of range", (unsigned long long)p->nfunc);
	return NULL;
}

struct gh_error *gh_pclntab_open(const struct gh_exe *e, struct gh_pclntab *p)
{
	memset(p, 0, sizeof(*p));
	const struct gh_exe_section *s = gh_exe_section(e, ".gopclntab");
	if (s && (p->data = gh_exe_section_data(e, s))) {
		p->size = s->size;
		p->addr = s->addr + e->bias;
		return parse(p);
	}
	/* No section headers: look for the header signature in read-only
	 * segments: magic, two zero pad bytes, quantum, pointer size 8. */
	for (size_t i = 0; i < e->phnum; i++) {
		const Elf64_Phdr *ph = &e->phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & (PF_W | PF_X)) || ph->p_offset > e->size)
			continue;
		uint64_t n = ph->p_filesz < e->size - ph->p_offset ? ph->p_filesz : e->size - ph->p_offset;
		const uint8_t *d = e->map + ph->p_offset;
		for (uint64_t off = 0; off + 72 <= n; off += 8) {
			if (memcmp(d + off, "\xf1\xff\xff\xff\x00\x00", 6) || d[off + 7] != 8)
				continue;
			p->data = d + off;
			p->size = (size_t)(n - off);
			p->addr = ph->p_vaddr + off + e->bias;
			if (!parse(p))
				return NULL;
		}
	}
	memset(p, 0, sizeof(*p));
	return gh_errorf(GH_ERR_FORMAT, "%s has no Go function table (.gopclntab)", e->path);
}

uint64_t gh_pclntab_header_text(const struct gh_pclntab *p)
{
	return u64at(p->data + 24);
}

static bool ftab(const struct gh_pclntab *p, uint64_t i, uint32_t *entryoff, uint32_t *funcoff)
{
	uint32_t v[2];
	if (!get(p, p->pcln_off + i * 8, v, 8))
		return false;
	*entryoff = v[0];
	*funcoff = v[1];
	return true;
}

bool gh_pclntab_find(const struct gh_pclntab *p, uint64_t pc, struct gh_func *f)
{
	if (!p->data || pc < p->text)
		return false;
	uint32_t last, fo;
	if (!ftab(p, p->nfunc, &last, &fo) || pc - p->text >= last)
		return false;
	uint64_t rel = pc - p->text, lo = 0, hi = p->nfunc;
	while (hi - lo > 1) { /* largest i with entryoff(i) <= rel */
		uint64_t mid = lo + (hi - lo) / 2;
		uint32_t eo;
		if (!ftab(p, mid, &eo, &fo))
			return false;
		if (eo <= rel)
			lo = mid;
		else
			hi = mid;
	}
	uint32_t eo;
	if (!ftab(p, lo, &eo, &fo) || eo > rel)
		return false;
	uint8_t rec[FUNC_SIZE];
	if (!get(p, p->pcln_off + fo, rec, sizeof(rec)))
		return false;
	int32_t nameoff;
	memcpy(&nameoff, rec + FUNC_NAMEOFF, 4);
	if (nameoff < 0 || p->funcname_off + (uint64_t)nameoff >= p->size)
		return false;
	const char *name = (const char *)p->data + p->funcname_off + nameoff;
	if (!memchr(name, 0, p->size - (p->funcname_off + (uint64_t)nameoff)))
		return false;
	f->entry = p->text + eo;
	f->name = name;
	f->off = fo;
	memcpy(&f->args, rec + FUNC_ARGS, 4);
	f->funcid = rec[FUNC_FUNCID];
	f->flag = rec[FUNC_FLAG];
	return true;
}

static bool uvarint(const struct gh_pclntab *p, uint64_t *off, uint32_t *v)
{
	uint32_t x = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		if (*off >= p->size)
			return false;
		uint8_t b = p->data[(*off)++];
		x |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

bool gh_pclntab_pcvalue(const struct gh_pclntab *p, const struct gh_func *f, uint32_t tab, uint64_t pc, int32_t *val)
{
	if (!tab)
		return false;
	uint64_t off = p->pctab_off + tab;
	int32_t v = -1;
	uint64_t cur = f->entry;
	/* Bounded: a table never has more pairs than it has bytes. */
	for (bool first = true; off < p->size; first = false) {
		uint32_t uv, pcd;
		if (!uvarint(p, &off, &uv))
			return false;
		if (uv == 0 && !first)
			return false; /* end of table before reaching pc */
		v += (uv & 1) ? -(int32_t)(uv >> 1) - 1 : (int32_t)(uv >> 1);
		if (!uvarint(p, &off, &pcd))
			return false;
		cur += (uint64_t)pcd * p->quantum;
		if (pc < cur) {
			*val = v;
			return true;
		}
	}
	return false;
}

bool gh_pclntab_fileline(const struct gh_pclntab *p, const struct gh_func *f, uint64_t pc, const char **file, int32_t *line)
{
	uint8_t rec[FUNC_SIZE];
	if (!get(p, p->pcln_off + f->off, rec, sizeof(rec)))
		return false;
	uint32_t pcfile, pcln, cuoff;
	memcpy(&pcfile, rec + FUNC_PCFILE, 4);
	memcpy(&pcln, rec + FUNC_PCLN, 4);
	memcpy(&cuoff, rec + FUNC_CUOFF, 4);
	int32_t fileno;
	if (!gh_pclntab_pcvalue(p, f, pcfile, pc, &fileno) || !gh_pclntab_pcvalue(p, f, pcln, pc, line) || fileno < 0)
		return false;
	uint32_t foff;
	if (!get(p, p->cu_off + ((uint64_t)cuoff + (uint64_t)fileno) * 4, &foff, 4) || foff == 0xffffffffu)
		return false;
	uint64_t at = p->filetab_off + foff;
	if (at >= p->size || !memchr(p->data + at, 0, p->size - at))
		return false;
	*file = (const char *)p->data + at;
	return true;
}

#define FUNC_DEFERRETURN 12
#define FUNC_PCSP 16
#define FUNC_NPCDATA 28
#define FUNC_STARTLINE 36
#define FUNC_NFUNCDATA 43

bool gh_pclntab_funcinfo(const struct gh_pclntab *p, const struct gh_func *f, struct gh_funcinfo *fi)
{
	uint8_t rec[FUNC_SIZE];
	if (!get(p, p->pcln_off + f->off, rec, sizeof(rec)))
		return false;
	memcpy(&fi->deferreturn, rec + FUNC_DEFERRETURN, 4);
	memcpy(&fi->pcsp, rec + FUNC_PCSP, 4);
	memcpy(&fi->npcdata, rec + FUNC_NPCDATA, 4);
	memcpy(&fi->startline, rec + FUNC_STARTLINE, 4);
	fi->nfuncdata = rec[FUNC_NFUNCDATA];
	/* The pcdata and funcdata arrays follow the record. */
	return fi->npcdata <= 256 && p->pcln_off + f->off + FUNC_SIZE + 4ull * (fi->npcdata + fi->nfuncdata) <= p->size;
}

bool gh_pclntab_pcdata(const struct gh_pclntab *p, const struct gh_func *f, uint32_t idx, uint64_t pc, int32_t *val)
{
	struct gh_funcinfo fi;
	uint32_t tab;
	if (!gh_pclntab_funcinfo(p, f, &fi) || idx >= fi.npcdata ||
	    !get(p, p->pcln_off + f->off + FUNC_SIZE + 4ull * idx, &tab, 4) || !tab)
		return false;
	return gh_pclntab_pcvalue(p, f, tab, pc, val);
}

bool gh_pclntab_funcdata(const struct gh_pclntab *p, const struct gh_func *f, uint32_t idx, uint32_t *off)
{
	struct gh_funcinfo fi;
	if (!gh_pclntab_funcinfo(p, f, &fi) || idx >= fi.nfuncdata ||
	    !get(p, p->pcln_off + f->off + FUNC_SIZE + 4ull * (fi.npcdata + idx), off, 4))
		return false;
	return *off != 0xffffffffu;
}

bool gh_pclntab_func_at(const struct gh_pclntab *p, uint64_t i, struct gh_func *f)
{
	uint32_t eo, fo;
	if (!p->data || i >= p->nfunc || !ftab(p, i, &eo, &fo))
		return false;
	return gh_pclntab_find(p, p->text + eo, f) && f->off == fo;
}

bool gh_pclntab_find_name(const struct gh_pclntab *p, const char *name, struct gh_func *f)
{
	for (uint64_t i = 0; i < p->nfunc; i++)
		if (gh_pclntab_func_at(p, i, f) && !strcmp(f->name, name))
			return true;
	return false;
}
