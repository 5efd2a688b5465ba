/* DWARF via libdw (handles Go's zlib-compressed sections and DWARF 5). */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/sort.h"
#include "dwarf.h"

struct entry {
	const char *name;
	int tag;
	Dwarf_Off off;
};

struct gh_dwarf {
	Dwarf *dw;
	struct entry *ents;
	size_t n, cap;
	const char *producer;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->off < y->off ? -1 : x->off > y->off;
}

void gh_dwarf_close(struct gh_dwarf *d)
{
	if (!d)
		return;
	if (d->dw)
		dwarf_end(d->dw);
	free(d->ents);
	free(d);
}

struct gh_error *gh_dwarf_open(Elf *elf, struct gh_dwarf **out)
{
	*out = NULL;
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw)
		return NULL; /* no DWARF: stripped */
	struct gh_dwarf *d = calloc(1, sizeof(*d));
	if (!d) {
		dwarf_end(dw);
		return &gh_error_nomem;
	}
	d->dw = dw;
	Dwarf_Off off = 0, next;
	size_t hsize;
	while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, child;
		if (dwarf_offdie(dw, off + hsize, &cu)) {
			if (!d->producer) {
				Dwarf_Attribute a;
				d->producer = dwarf_formstring(dwarf_attr(&cu, DW_AT_producer, &a));
			}
			if (dwarf_child(&cu, &child) == 0) {
				do {
					int tag = dwarf_tag(&child);
					const char *name = dwarf_diename(&child);
					if (!name)
						continue;
					if (d->n == d->cap) {
						size_t nc = d->cap ? d->cap * 2 : 4096;
						struct entry *ne = realloc(d->ents, nc * sizeof(*ne));
						if (!ne) {
							gh_dwarf_close(d);
							return &gh_error_nomem;
						}
						d->ents = ne;
						d->cap = nc;
					}
					d->ents[d->n++] = (struct entry){ name, tag, dwarf_dieoffset(&child) };
				} while (dwarf_siblingof(&child, &child) == 0);
			}
		}
		off = next;
	}
	if (!d->n) {
		gh_dwarf_close(d);
		return gh_errorf(GH_ERR_FORMAT, "the executable's DWARF has no readable entries: %s", dwarf_errmsg(-1));
	}
	gh_sort(d->ents, d->n, sizeof(*d->ents), entry_cmp);
	*out = d;
	return NULL;
}

const char *gh_dwarf_producer(const struct gh_dwarf *d)
{
	return d && d->producer ? d->producer : "";
}

size_t gh_dwarf_count(const struct gh_dwarf *d)
{
	return d ? d->n : 0;
}

/* Index of the first entry named name (d->n if none sorts after it). */
static size_t first_named(const struct gh_dwarf *d, const char *name)
{
	size_t lo = 0, hi = d->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(d->ents[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* First DIE named exactly name[0..len) with the given tag. */
static bool lookup1(struct gh_dwarf *d, const char *name, size_t len, int tag, Dwarf_Die *die)
{
	char buf[256];
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, name, len);
	buf[len] = 0;
	for (size_t lo = first_named(d, buf); lo < d->n && !strcmp(d->ents[lo].name, buf); lo++)
		if (d->ents[lo].tag == tag && dwarf_offdie(d->dw, d->ents[lo].off, die))
			return true;
	return false;
}

/* The next '|'-separated alternative of a name list: *alt, *len; *p moves on. */
static bool next_alt(const char **p, const char **alt, size_t *len)
{
	if (!*p)
		return false;
	const char *bar = strchr(*p, '|');
	*alt = *p;
	*len = bar ? (size_t)(bar - *p) : strlen(*p);
	*p = bar ? bar + 1 : NULL;
	return true;
}

/* Tries each '|' alternative in names. */
static bool lookup(struct gh_dwarf *d, const char *names, int tag, Dwarf_Die *die)
{
	const char *alt;
	size_t len;
	for (const char *p = d ? names : NULL; next_alt(&p, &alt, &len);)
		if (lookup1(d, alt, len, tag, die))
			return true;
	return false;
}

static bool strip_typedefs(Dwarf_Die *die)
{
	for (int i = 0; i < 16 && dwarf_tag(die) == DW_TAG_typedef; i++) {
		Dwarf_Attribute a;
		if (!dwarf_formref_die(dwarf_attr(die, DW_AT_type, &a), die))
			return false;
	}
	return true;
}

bool gh_dwarf_struct_size(struct gh_dwarf *d, const char *names, uint64_t *size)
{
	Dwarf_Die die;
	Dwarf_Word w;
	if (!lookup(d, names, DW_TAG_structure_type, &die) || dwarf_aggregate_size(&die, &w))
		return false;
	*size = w;
	return true;
}

/* One dotted path, path[0..len), through embedded structs. */
static bool member_path(Dwarf_Die st, const char *path, size_t pathlen, uint64_t *offset, uint64_t *size)
{
	uint64_t total = 0;
	const char *p = path, *end = path + pathlen;
	for (;;) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t len = dot ? (size_t)(dot - p) : (size_t)(end - p);
		Dwarf_Die m;
		bool found = false;
		if (dwarf_child(&st, &m) == 0) {
			do {
				const char *n = dwarf_diename(&m);
				if (dwarf_tag(&m) == DW_TAG_member && n && strlen(n) == len && !memcmp(n, p, len)) {
					found = true;
					break;
				}
			} while (dwarf_siblingof(&m, &m) == 0);
		}
		if (!found)
			return false;
		Dwarf_Attribute a;
		Dwarf_Word loc = 0;
		if (dwarf_attr(&m, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &loc))
			return false;
		total += loc;
		Dwarf_Die ty;
		if (!dwarf_formref_die(dwarf_attr(&m, DW_AT_type, &a), &ty) || !strip_typedefs(&ty))
			return false;
		if (!dot) {
			Dwarf_Word w;
			*offset = total;
			*size = dwarf_aggregate_size(&ty, &w) == 0 ? w : 0;
			return true;
		}
		st = ty;
		p = dot + 1;
	}
}

bool gh_dwarf_member(struct gh_dwarf *d, const char *struct_names, const char *paths, uint64_t *offset,
		     uint64_t *size)
{
	Dwarf_Die st;
	if (!lookup(d, struct_names, DW_TAG_structure_type, &st))
		return false;
	/* '|' separates whole alternative paths. */
	const char *alt;
	size_t len;
	for (const char *p = paths; next_alt(&p, &alt, &len);)
		if (member_path(st, alt, len, offset, size))
			return true;
	return false;
}

bool gh_dwarf_variable(struct gh_dwarf *d, const char *names, uint64_t *addr)
{
	Dwarf_Die die;
	Dwarf_Attribute a;
	if (!lookup(d, names, DW_TAG_variable, &die) || !dwarf_attr(&die, DW_AT_location, &a))
		return false;
	/* Go's locations are a lone DW_OP_addr; dwarf_getlocation() refuses some
	 * of them, so decode the block directly, falling back to libdw for
	 * DWARF 5 forms. */
	Dwarf_Block b;
	if (dwarf_formblock(&a, &b) == 0 && b.length == 9 && b.data[0] == DW_OP_addr) {
		memcpy(addr, b.data + 1, 8);
		return true;
	}
	Dwarf_Op *ops;
	size_t nops;
	if (dwarf_getlocation(&a, &ops, &nops) == 0 && nops == 1 &&
	    (ops[0].atom == DW_OP_addr || ops[0].atom == DW_OP_addrx)) {
		if (ops[0].atom == DW_OP_addr) {
			*addr = ops[0].number;
			return true;
		}
		Dwarf_Attribute r;
		Dwarf_Addr v;
		if (dwarf_getlocation_attr(&a, &ops[0], &r) == 0 && dwarf_formaddr(&r, &v) == 0) {
			*addr = v;
			return true;
		}
	}
	return false;
}

bool gh_dwarf_constant(struct gh_dwarf *d, const char *names, int64_t *value)
{
	Dwarf_Die die;
	Dwarf_Attribute a;
	Dwarf_Sword v;
	if (!lookup(d, names, DW_TAG_constant, &die) || !dwarf_attr(&die, DW_AT_const_value, &a) ||
	    dwarf_formsdata(&a, &v))
		return false;
	*value = v;
	return true;
}

/* Go's DW_AT_go_runtime_type (cmd/internal/dwarf): on a type DIE, the offset
 * of the type's runtime descriptor from the start of the type data
 * (moduledata.types), as DW_FORM_addr.  0 means no descriptor is linked. */
#define GH_DW_AT_go_runtime_type 0x2904

/* The runtime type offset carried by die or, through typedefs of the same
 * name (Go emits "typedef main.T -> struct main.T"), by the DIE it names.
 * A typedef whose target has another name (an interface's typedef to
 * runtime.iface, a map's to *hash<...>) is not followed: that would be a
 * different Go type. */
static bool die_runtime_type(Dwarf_Die die, uint64_t *off)
{
	const char *name = dwarf_diename(&die);
	for (int i = 0; i < 8; i++) {
		Dwarf_Attribute a;
		Dwarf_Addr v;
		if (dwarf_attr(&die, GH_DW_AT_go_runtime_type, &a) && dwarf_formaddr(&a, &v) == 0 && v) {
			*off = v;
			return true;
		}
		Dwarf_Die next;
		if (dwarf_tag(&die) != DW_TAG_typedef || !dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &next))
			return false;
		const char *nn = dwarf_diename(&next);
		if (!name || !nn || strcmp(name, nn))
			return false;
		die = next;
	}
	return false;
}

bool gh_dwarf_variable_runtime_type(struct gh_dwarf *d, const char *names, uint64_t *off)
{
	Dwarf_Die die, ty;
	Dwarf_Attribute a;
	if (!lookup(d, names, DW_TAG_variable, &die) || !dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &ty))
		return false;
	return die_runtime_type(ty, off);
}

bool gh_dwarf_type_runtime_type(struct gh_dwarf *d, const char *name, uint64_t *off)
{
	if (!d || !name || !*name)
		return false;
	Dwarf_Die die;
	size_t len = strlen(name);
	if ((lookup1(d, name, len, DW_TAG_structure_type, &die) || lookup1(d, name, len, DW_TAG_typedef, &die)) &&
	    die_runtime_type(die, off))
		return true;
	/* Then pointer, base, array and other type DIEs of that name, in
	 * DWARF order (the index sorts equal names by offset). */
	for (size_t i = first_named(d, name); i < d->n && !strcmp(d->ents[i].name, name); i++) {
		int tag = d->ents[i].tag;
		if (tag != DW_TAG_variable && tag != DW_TAG_constant && tag != DW_TAG_subprogram &&
		    tag != DW_TAG_structure_type && tag != DW_TAG_typedef && dwarf_offdie(d->dw, d->ents[i].off, &die) &&
		    die_runtime_type(die, off))
			return true;
	}
	return false;
}

void gh_dwarf_foreach_variable(struct gh_dwarf *d, gh_dwarf_var_fn fn, void *arg)
{
	for (size_t i = 0; d && i < d->n; i++) {
		if (d->ents[i].tag != DW_TAG_variable ||
		    (i && d->ents[i - 1].tag == DW_TAG_variable && !strcmp(d->ents[i - 1].name, d->ents[i].name)))
			continue;
		uint64_t addr;
		if (!gh_dwarf_variable(d, d->ents[i].name, &addr))
			continue;
		Dwarf_Die die, ty;
		Dwarf_Attribute a;
		Dwarf_Word size = 0;
		if (dwarf_offdie(d->dw, d->ents[i].off, &die) && dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &ty) &&
		    strip_typedefs(&ty) && dwarf_aggregate_size(&ty, &size))
			size = 0;
		fn(arg, d->ents[i].name, addr, size);
	}
}

const char *gh_dwarf_variable_type_name(struct gh_dwarf *d, const char *name)
{
	Dwarf_Die die, ty;
	Dwarf_Attribute a;
	if (!lookup(d, name, DW_TAG_variable, &die) || !dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &ty))
		return NULL;
	return dwarf_diename(&ty);
}

#define MAX_PATH_DEPTH 16
#define GH_DW_AT_go_kind 0x2900 /* a Go type's reflect.Kind */
#define GO_KIND_STRUCT 25

void gh_dwarf_variable_field_path(struct gh_dwarf *d, const char *name, uint64_t off, char *buf, size_t n)
{
	Dwarf_Die die, ty;
	Dwarf_Attribute a;
	size_t at = 0;
	buf[0] = 0;
	if (!n || !d || !lookup(d, name, DW_TAG_variable, &die) || !dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &ty))
		return;
	for (int depth = 0; depth < MAX_PATH_DEPTH && at + 1 < n && strip_typedefs(&ty); depth++) {
		Dwarf_Die sub, et;
		Dwarf_Word esize;
		Dwarf_Word kind = GO_KIND_STRUCT;
		if (dwarf_attr(&ty, GH_DW_AT_go_kind, &a))
			dwarf_formudata(&a, &kind);
		if (dwarf_tag(&ty) == DW_TAG_structure_type && kind == GO_KIND_STRUCT) {
			/* The member whose bytes hold off (slices, strings and
			 * interfaces are DWARF structs too: their words end the path). */
			bool found = false;
			if (dwarf_child(&ty, &sub) == 0) {
				do {
					Dwarf_Word loc = 0, msize;
					Dwarf_Die mt;
					const char *mn = dwarf_diename(&sub);
					if (dwarf_tag(&sub) != DW_TAG_member || !mn ||
					    (dwarf_attr(&sub, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &loc)) ||
					    !dwarf_formref_die(dwarf_attr(&sub, DW_AT_type, &a), &mt) || !strip_typedefs(&mt) ||
					    dwarf_aggregate_size(&mt, &msize) || off < loc || off - loc >= msize)
						continue;
					at += (size_t)snprintf(buf + at, n - at, ".%s", mn);
					off -= loc;
					ty = mt;
					found = true;
					break;
				} while (dwarf_siblingof(&sub, &sub) == 0);
			}
			if (!found)
				return;
		} else if (dwarf_tag(&ty) == DW_TAG_array_type && dwarf_formref_die(dwarf_attr(&ty, DW_AT_type, &a), &et) &&
			   strip_typedefs(&et) && dwarf_aggregate_size(&et, &esize) == 0 && esize) {
			at += (size_t)snprintf(buf + at, n - at, "[%llu]", (unsigned long long)(off / esize));
			off %= esize;
			ty = et;
		} else {
			return; /* a scalar, pointer, string...: the path ends here */
		}
	}
}

void gh_dwarf_foreach_function(struct gh_dwarf *d, gh_dwarf_func_fn fn, void *arg)
{
	if (!d)
		return;
	Dwarf_Off cuoff = 0, next;
	size_t hsize;
	while (dwarf_nextcu(d->dw, cuoff, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, child;
		if (dwarf_offdie(d->dw, cuoff + hsize, &cu) && dwarf_child(&cu, &child) == 0) {
			do {
				Dwarf_Addr lo, hi;
				if (dwarf_tag(&child) == DW_TAG_subprogram && dwarf_lowpc(&child, &lo) == 0 &&
				    dwarf_highpc(&child, &hi) == 0 && hi > lo)
					fn(arg, lo, hi, dwarf_dieoffset(&child));
			} while (dwarf_siblingof(&child, &child) == 0);
		}
		cuoff = next;
	}
}

/* Evaluates the memory location forms Go emits for frame-resident
 * variables: DW_OP_call_frame_cfa [DW_OP_consts N DW_OP_plus |
 * DW_OP_plus_uconst N], DW_OP_fbreg N (Go's frame base is the CFA), each
 * optionally followed by DW_OP_piece.  false for anything else. */
static bool cfa_location(const Dwarf_Op *ops, size_t n, int64_t *off, bool *pieces)
{
	int64_t stack[4];
	size_t sp = 0;
	bool cfa = false;
	*pieces = false;
	for (size_t i = 0; i < n; i++) {
		switch (ops[i].atom) {
		case DW_OP_call_frame_cfa:
			if (sp || cfa)
				return false;
			cfa = true;
			stack[sp++] = 0;
			break;
		case DW_OP_fbreg:
			if (sp || cfa)
				return false;
			cfa = true;
			stack[sp++] = (int64_t)ops[i].number;
			break;
		case DW_OP_consts:
		case DW_OP_constu:
		case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s: case DW_OP_const8s:
		case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u: case DW_OP_const8u:
			if (sp == 4)
				return false;
			stack[sp++] = (int64_t)ops[i].number;
			break;
		case DW_OP_plus:
			if (sp < 2)
				return false;
			stack[sp - 2] += stack[sp - 1];
			sp--;
			break;
		case DW_OP_minus:
			if (sp < 2)
				return false;
			stack[sp - 2] -= stack[sp - 1];
			sp--;
			break;
		case DW_OP_plus_uconst:
			if (sp < 1)
				return false;
			stack[sp - 1] += (int64_t)ops[i].number;
			break;
		case DW_OP_piece:
			*pieces = i + 1 < n;
			i = n; /* the first piece is the one located */
			break;
		default:
			return false;
		}
	}
	if (!cfa || sp != 1)
		return false;
	*off = stack[0];
	return true;
}

static size_t locals_of(struct gh_dwarf *d, Dwarf_Die *parent, uint64_t pc, gh_dwarf_local_fn fn, void *arg, int depth)
{
	Dwarf_Die c;
	size_t n = 0;
	if (depth > 16 || dwarf_child(parent, &c) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&c);
		if (tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) {
			if (dwarf_haspc(&c, pc) == 1)
				n += locals_of(d, &c, pc, fn, arg, depth + 1);
			continue;
		}
		if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter)
			continue;
		Dwarf_Attribute a;
		if (!dwarf_attr_integrate(&c, DW_AT_location, &a))
			continue;
		Dwarf_Op *ops;
		size_t nops;
		struct gh_dwarf_local l = { .is_param = tag == DW_TAG_formal_parameter };
		if (dwarf_getlocation_addr(&a, pc, &ops, &nops, 1) != 1 || !cfa_location(ops, nops, &l.cfa_offset, &l.pieces))
			continue;
		l.name = dwarf_diename(&c);
		if (!l.name) {
			Dwarf_Attribute na;
			l.name = dwarf_formstring(dwarf_attr_integrate(&c, DW_AT_name, &na));
		}
		Dwarf_Die ty;
		if (dwarf_formref_die(dwarf_attr_integrate(&c, DW_AT_type, &a), &ty)) {
			l.type_name = dwarf_diename(&ty);
			die_runtime_type(ty, &l.type_off);
			Dwarf_Die st = ty;
			Dwarf_Word w;
			if (strip_typedefs(&st) && dwarf_aggregate_size(&st, &w) == 0)
				l.size = w;
		}
		if (!l.name)
			continue;
		fn(arg, &l);
		n++;
	} while (dwarf_siblingof(&c, &c) == 0);
	return n;
}

size_t gh_dwarf_function_locals(struct gh_dwarf *d, uint64_t die, uint64_t pc, gh_dwarf_local_fn fn, void *arg)
{
	Dwarf_Die f;
	if (!d || !dwarf_offdie(d->dw, die, &f) || dwarf_tag(&f) != DW_TAG_subprogram)
		return 0;
	return locals_of(d, &f, pc, fn, arg, 0);
}

#define MAX_PART_DEPTH 12
#define MAX_PART_ELEMS 4096

static void parts(Dwarf_Die ty, uint64_t base, int depth, gh_dwarf_part_fn fn, void *arg)
{
	uint64_t off;
	if (depth > MAX_PART_DEPTH || !strip_typedefs(&ty))
		return;
	if (die_runtime_type(ty, &off)) {
		fn(arg, base, off, false);
		return;
	}
	Dwarf_Attribute a;
	Dwarf_Die sub;
	switch (dwarf_tag(&ty)) {
	case DW_TAG_structure_type: {
		/* sync/atomic.Pointer[T] {_ [0]*T; _ noCopy; v unsafe.Pointer}: v is a *T. */
		const char *sn = dwarf_diename(&ty);
		if (sn && !strncmp(sn, "sync/atomic.Pointer[", 20) && dwarf_child(&ty, &sub) == 0) {
			Dwarf_Word voff = 0;
			bool have_v = false, have_t = false;
			uint64_t toff = 0;
			do {
				const char *mn = dwarf_diename(&sub);
				Dwarf_Die mt, et, pt;
				if (!mn || !dwarf_formref_die(dwarf_attr(&sub, DW_AT_type, &a), &mt))
					continue;
				if (!strcmp(mn, "v") && dwarf_attr(&sub, DW_AT_data_member_location, &a) &&
				    dwarf_formudata(&a, &voff) == 0)
					have_v = true;
				else if (dwarf_tag(&mt) == DW_TAG_array_type && dwarf_formref_die(dwarf_attr(&mt, DW_AT_type, &a), &et) &&
					 dwarf_tag(&et) == DW_TAG_pointer_type && dwarf_formref_die(dwarf_attr(&et, DW_AT_type, &a), &pt) &&
					 die_runtime_type(pt, &toff))
					have_t = true;
			} while (dwarf_siblingof(&sub, &sub) == 0);
			if (have_v && have_t)
				fn(arg, base + voff, toff, true);
			break;
		}
		if (dwarf_child(&ty, &sub) == 0) {
			do {
				Dwarf_Word loc = 0;
				Dwarf_Die mt;
				if (dwarf_tag(&sub) != DW_TAG_member ||
				    (dwarf_attr(&sub, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &loc)) ||
				    !dwarf_formref_die(dwarf_attr(&sub, DW_AT_type, &a), &mt))
					continue;
				parts(mt, base + loc, depth + 1, fn, arg);
			} while (dwarf_siblingof(&sub, &sub) == 0);
		}
		break;
	}
	case DW_TAG_array_type: {
		Dwarf_Die et;
		Dwarf_Word esize, count = 0;
		if (!dwarf_formref_die(dwarf_attr(&ty, DW_AT_type, &a), &et) || !strip_typedefs(&et) ||
		    dwarf_aggregate_size(&et, &esize) || !esize || dwarf_child(&ty, &sub))
			break;
		if (dwarf_attr(&sub, DW_AT_count, &a))
			dwarf_formudata(&a, &count);
		else if (dwarf_attr(&sub, DW_AT_upper_bound, &a) && dwarf_formudata(&a, &count) == 0)
			count++;
		for (Dwarf_Word i = 0; i < count && i < MAX_PART_ELEMS; i++)
			parts(et, base + i * esize, depth + 1, fn, arg);
		break;
	}
	case DW_TAG_pointer_type: {
		Dwarf_Die pt;
		if (dwarf_formref_die(dwarf_attr(&ty, DW_AT_type, &a), &pt) && strip_typedefs(&pt) &&
		    die_runtime_type(pt, &off))
			fn(arg, base, off, true);
		break;
	}
	default:
		break;
	}
}

void gh_dwarf_variable_parts(struct gh_dwarf *d, const char *name, gh_dwarf_part_fn fn, void *arg)
{
	Dwarf_Die die, ty;
	Dwarf_Attribute a;
	if (lookup(d, name, DW_TAG_variable, &die) && dwarf_formref_die(dwarf_attr(&die, DW_AT_type, &a), &ty))
		parts(ty, 0, 0, fn, arg);
}

#define GH_DW_AT_go_closure_offset 0x2907

void gh_dwarf_closure_parts(struct gh_dwarf *d, const char *func, gh_dwarf_part_fn fn, void *arg)
{
	Dwarf_Die sp, v;
	if (!d || !lookup(d, func, DW_TAG_subprogram, &sp) || dwarf_child(&sp, &v))
		return;
	do {
		Dwarf_Attribute a;
		Dwarf_Word off;
		Dwarf_Die ty;
		if (dwarf_tag(&v) != DW_TAG_variable || !dwarf_attr(&v, GH_DW_AT_go_closure_offset, &a) ||
		    dwarf_formudata(&a, &off) || !dwarf_formref_die(dwarf_attr(&v, DW_AT_type, &a), &ty))
			continue;
		parts(ty, off, 0, fn, arg);
	} while (dwarf_siblingof(&v, &v) == 0);
}
