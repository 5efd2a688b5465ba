/* Type descriptors decoded into an interned table.  Every offset comes from
 * the layout table (layout.def); what differs between Go releases is which
 * structs and constants exist there, never a version number here.
 *
 * Decoding is iterative: a new descriptor is entered in the address table
 * before the descriptors it names are decoded (from a queue), so cycles end
 * at the second visit.  One gh_type_at() call decodes the closure of the
 * descriptor; if any part of it is unreadable or implausible the whole call
 * is undone and the error returned, so the table never holds a type with a
 * dangling reference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/strutil.h"
#include "../util/vec.h"
#include "types.h"

/* Limits against corrupt descriptors: no Go program comes close. */
#define MAX_TYPES ((1u << GH_TYPE_ID_BITS) - 1) /* ids 1..MAX_TYPES */
#define MAX_FIELDS (1u << 16)      /* fields of one struct */
#define MAX_NAME (1u << 16)        /* bytes of a type or field name */
#define MAX_SIZE (1ull << 48)      /* bytes of a value: beyond any address space */
#define MAX_MODULES 64
#define MAX_TYPELINKS (1u << 22)
#define DESC_BUF 256               /* largest descriptor struct we read (SwissMapType: 112) */
#define CHUNK_BITS 8               /* types are stored in chunks so pointers stay valid */
#define CHUNK (1u << CHUNK_BITS)

struct module {
	uint64_t md, types, etypes;
};

struct arena_blk {
	struct arena_blk *next;
	size_t cap, used;
	char data[];
};

struct arena_mark {
	struct arena_blk *blk;
	size_t used;
};

/* A candidate for gh_type_by_name: a descriptor the module lists. */
struct cand {
	char *name;
	uint64_t addr;
};

struct gh_types {
	struct gh_program *p;
	const struct gh_layout *L;
	struct module mods[MAX_MODULES];
	size_t nmods;

	struct gh_type **chunks;
	size_t nchunks;
	uint32_t count;

	uint64_t *hkeys; /* descriptor address; 0: empty slot */
	gh_type_id *hids;
	size_t hcap;     /* power of two */

	struct arena_blk *arena; /* names and field arrays */

	uint8_t kind_mask;
	uint8_t kind_direct;  /* Kind_ bit meaning direct-interface (0: not this way) */
	uint8_t tflag_direct; /* TFlag bit meaning direct-interface (0: not this way) */
	uint8_t tflag_extra_star;

	struct cand *cands;
	size_t ncands;
	bool cands_loaded, closure_done;

	gh_type_id *bucket_maps; /* bucket or group type id -> map type id */
	uint32_t nbucket_maps;
	bool bucket_maps_built;
};

/* Descriptor references still to decode, per newly interned type. */
struct pend {
	gh_type_id id;
	uint64_t elem, key, bucket;
	uint64_t *ftypes; /* field type addresses (nfields) */
};
GH_VEC(pendvec, struct pend)

static const char *const kind_names[] = {
	"invalid", "bool", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
	"uint64", "uintptr", "float32", "float64", "complex64", "complex128", "array", "chan", "func",
	"interface", "map", "ptr", "slice", "string", "struct", "unsafe.Pointer",
};

const char *gh_kind_name(enum gh_kind k)
{
	return (unsigned)k < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[k] : "invalid";
}

static const char *ver(const struct gh_types *T)
{
	return gh_program_version(T->p);
}

/* ---- storage ---------------------------------------------------------- */

static void *arena_alloc(struct gh_types *T, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	struct arena_blk *b = T->arena;
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = T->arena;
		b->cap = cap;
		b->used = 0;
		T->arena = b;
	}
	void *r = b->data + b->used;
	b->used += n;
	return r;
}

static struct arena_mark arena_mark(const struct gh_types *T)
{
	return (struct arena_mark){ T->arena, T->arena ? T->arena->used : 0 };
}

static void arena_reset(struct gh_types *T, struct arena_mark m)
{
	while (T->arena && T->arena != m.blk) {
		struct arena_blk *next = T->arena->next;
		free(T->arena);
		T->arena = next;
	}
	if (T->arena)
		T->arena->used = m.used;
}

static struct gh_type *type_mut(struct gh_types *T, gh_type_id id)
{
	return &T->chunks[(id - 1) >> CHUNK_BITS][(id - 1) & (CHUNK - 1)];
}

static size_t hslot(const struct gh_types *T, uint64_t addr)
{
	return (size_t)(((addr >> 3) * 0x9E3779B97F4A7C15ull) >> 17) & (T->hcap - 1);
}

static gh_type_id hash_get(const struct gh_types *T, uint64_t addr)
{
	if (!T->hcap)
		return 0;
	for (size_t i = hslot(T, addr);; i = (i + 1) & (T->hcap - 1)) {
		if (!T->hkeys[i])
			return 0;
		if (T->hkeys[i] == addr)
			return T->hids[i];
	}
}

static void hash_put_nogrow(struct gh_types *T, uint64_t addr, gh_type_id id)
{
	size_t i = hslot(T, addr);
	while (T->hkeys[i])
		i = (i + 1) & (T->hcap - 1);
	T->hkeys[i] = addr;
	T->hids[i] = id;
}

/* Rebuilds the address table for ids 1..count at capacity cap. */
static bool hash_rebuild(struct gh_types *T, size_t cap)
{
	uint64_t *k = calloc(cap, sizeof(*k));
	gh_type_id *v = calloc(cap, sizeof(*v));
	if (!k || !v) {
		free(k);
		free(v);
		return false;
	}
	free(T->hkeys);
	free(T->hids);
	T->hkeys = k;
	T->hids = v;
	T->hcap = cap;
	for (gh_type_id id = 1; id <= T->count; id++)
		hash_put_nogrow(T, type_mut(T, id)->addr, id);
	return true;
}

/* A new zeroed type for addr, entered in the address table. */
static struct gh_error *type_new(struct gh_types *T, uint64_t addr, gh_type_id *id)
{
	if (T->count >= MAX_TYPES)
		return gh_errorf(GH_ERR_FORMAT, "more than %u type descriptors: giving up at 0x%llx", MAX_TYPES,
				 (unsigned long long)addr);
	if (2 * ((size_t)T->count + 1) > T->hcap && !hash_rebuild(T, T->hcap ? 2 * T->hcap : 1024))
		return &gh_error_nomem;
	/* The chunk table is made at its full size once, never moved: typing
	 * reads types on one thread while it interns on another (gh_type_get). */
	if (!T->chunks && !(T->chunks = calloc(T->nchunks = (MAX_TYPES + CHUNK - 1) / CHUNK, sizeof(*T->chunks))))
		return &gh_error_nomem;
	size_t c = T->count >> CHUNK_BITS;
	if (!T->chunks[c] && !(T->chunks[c] = malloc(CHUNK * sizeof(struct gh_type))))
		return &gh_error_nomem;
	*id = T->count + 1;
	struct gh_type *t = type_mut(T, *id);
	memset(t, 0, sizeof(*t));
	t->addr = addr;
	__atomic_store_n(&T->count, *id, __ATOMIC_RELEASE);
	hash_put_nogrow(T, addr, *id);
	return NULL;
}

/* ---- reading ---------------------------------------------------------- */

/* A field of a descriptor read into buf (little-endian, zero-extended). */
static uint64_t getf(const uint8_t *buf, const struct gh_field *f)
{
	uint64_t v = 0;
	if (f->off >= 0 && f->size >= 1 && f->size <= 8)
		memcpy(&v, buf + f->off, f->size);
	return v;
}

static uint64_t get64(const uint8_t *buf, int64_t off)
{
	uint64_t v;
	memcpy(&v, buf + off, 8);
	return v;
}

/* Requires a present field that lies inside its struct (size_of bytes) and
 * inside DESC_BUF; min_size: the bytes the code reads there. */
static struct gh_error *need(const struct gh_types *T, const struct gh_field *f, int64_t size_of, uint32_t min_size)
{
	GH_TRY(gh_layout_require(T->L, f, ver(T)));
	if (size_of <= 0 || size_of > DESC_BUF || f->off + (int64_t)f->size > size_of || f->size < min_size)
		return gh_errorf(GH_ERR_FORMAT,
				 "implausible layout of a type descriptor struct in %s (size %lld, field at %lld of %u bytes)",
				 ver(T), (long long)size_of, (long long)f->off, f->size);
	return NULL;
}

static const struct module *module_of(const struct gh_types *T, uint64_t addr)
{
	for (size_t i = 0; i < T->nmods; i++)
		if (addr >= T->mods[i].types && addr < T->mods[i].etypes)
			return &T->mods[i];
	return NULL;
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
		if (!k || i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/* Reads an internal/abi.Name at addr (flag byte, uvarint length, bytes) as
 * a malloc'd string.  what/owner name the descriptor for messages. */
static struct gh_error *read_name(struct gh_types *T, uint64_t addr, const char *what, uint64_t owner, char **out,
				  uint8_t *flags)
{
	struct gh_target *tg = T->p->t;
	uint8_t fl;
	if (!gh_read(tg, addr, &fl, 1))
		return gh_errorf(GH_ERR_FAULT, "%s of the type descriptor at 0x%llx: name at 0x%llx is unreadable", what,
				 (unsigned long long)owner, (unsigned long long)addr);
	uint64_t len = 0;
	unsigned n = 0;
	for (;; n++) {
		uint8_t b;
		if (n >= 3 || !gh_read(tg, addr + 1 + n, &b, 1))
			return gh_errorf(GH_ERR_FORMAT, "%s of the type descriptor at 0x%llx: bad name length at 0x%llx",
					 what, (unsigned long long)owner, (unsigned long long)addr);
		len |= (uint64_t)(b & 0x7f) << (7 * n);
		if (!(b & 0x80))
			break;
	}
	if (len == 0 || len > MAX_NAME)
		return gh_errorf(GH_ERR_FORMAT, "%s of the type descriptor at 0x%llx: name at 0x%llx has length %llu",
				 what, (unsigned long long)owner, (unsigned long long)addr, (unsigned long long)len);
	char *s = malloc(len + 1);
	if (!s)
		return &gh_error_nomem;
	if (!gh_read(tg, addr + 2 + n, s, len)) {
		free(s);
		return gh_errorf(GH_ERR_FAULT, "%s of the type descriptor at 0x%llx: name bytes at 0x%llx are unreadable",
				 what, (unsigned long long)owner, (unsigned long long)(addr + 2 + n));
	}
	if (!utf8_ok((const unsigned char *)s, len)) {
		free(s);
		return gh_errorf(GH_ERR_FORMAT, "%s of the type descriptor at 0x%llx: name at 0x%llx is not text",
				 what, (unsigned long long)owner, (unsigned long long)addr);
	}
	s[len] = 0;
	*out = s;
	if (flags)
		*flags = fl;
	return NULL;
}

/* The header every descriptor starts with, checked. */
struct hdr {
	uint8_t buf[DESC_BUF];
	enum gh_kind kind;
	uint8_t tflag, kind_byte;
	uint64_t size, ptrdata;
};

/* The size a value of a fixed-size kind has (0: any). */
static uint64_t kind_size(enum gh_kind k, unsigned ptr)
{
	switch (k) {
	case GH_KIND_BOOL: case GH_KIND_INT8: case GH_KIND_UINT8: return 1;
	case GH_KIND_INT16: case GH_KIND_UINT16: return 2;
	case GH_KIND_INT32: case GH_KIND_UINT32: case GH_KIND_FLOAT32: return 4;
	case GH_KIND_INT64: case GH_KIND_UINT64: case GH_KIND_FLOAT64: case GH_KIND_COMPLEX64: return 8;
	case GH_KIND_COMPLEX128: return 16;
	case GH_KIND_INT: case GH_KIND_UINT: case GH_KIND_UINTPTR: case GH_KIND_CHAN: case GH_KIND_FUNC:
	case GH_KIND_MAP: case GH_KIND_POINTER: case GH_KIND_UNSAFE_POINTER: return ptr;
	case GH_KIND_INTERFACE: case GH_KIND_STRING: return 2 * ptr;
	case GH_KIND_SLICE: return 3 * ptr;
	default: return 0;
	}
}

static struct gh_error *read_hdr(struct gh_types *T, uint64_t addr, struct hdr *h)
{
	const struct gh_layout *L = T->L;
	if (!addr || addr % L->ptrSize)
		return gh_errorf(GH_ERR_FORMAT, "0x%llx is not a type descriptor address (not pointer-aligned)",
				 (unsigned long long)addr);
	if (!gh_read(T->p->t, addr, h->buf, (size_t)L->type.size_of))
		return gh_errorf(GH_ERR_FAULT, "type descriptor at 0x%llx is unreadable", (unsigned long long)addr);
	h->size = getf(h->buf, &L->type.size);
	h->ptrdata = getf(h->buf, &L->type.ptrBytes);
	h->tflag = (uint8_t)getf(h->buf, &L->type.tflag);
	h->kind_byte = (uint8_t)getf(h->buf, &L->type.kind);
	unsigned k = h->kind_byte & T->kind_mask;
	if (k == GH_KIND_INVALID || k > GH_KIND_UNSAFE_POINTER)
		return gh_errorf(GH_ERR_FORMAT, "0x%llx is not a type descriptor (kind byte 0x%02x)",
				 (unsigned long long)addr, h->kind_byte);
	h->kind = (enum gh_kind)k;
	uint64_t want = kind_size(h->kind, L->ptrSize);
	if (h->size > MAX_SIZE || h->ptrdata > h->size || h->ptrdata % L->ptrSize || (want && h->size != want))
		return gh_errorf(GH_ERR_FORMAT,
				 "0x%llx is not a type descriptor (kind %s with size %llu and pointer bytes %llu)",
				 (unsigned long long)addr, gh_kind_name(h->kind), (unsigned long long)h->size,
				 (unsigned long long)h->ptrdata);
	return NULL;
}

/* The name the runtime prints for the descriptor at addr (malloc'd). */
static struct gh_error *type_name(struct gh_types *T, uint64_t addr, const struct hdr *h, char **out)
{
	const struct module *m = module_of(T, addr);
	if (!m)
		return gh_errorf(GH_ERR_UNSUPPORTED,
				 "type descriptor at 0x%llx lies outside the type data of every module (a type made at run time by reflect?): its name is not readable",
				 (unsigned long long)addr);
	int32_t off = (int32_t)getf(h->buf, &T->L->type.str);
	uint64_t na = m->types + (uint64_t)(int64_t)off;
	if (off < 0 || na >= m->etypes)
		return gh_errorf(GH_ERR_FORMAT, "type descriptor at 0x%llx: name offset %d is outside the type data",
				 (unsigned long long)addr, off);
	char *s;
	GH_TRY(read_name(T, na, "name", addr, &s, NULL));
	if (h->tflag & T->tflag_extra_star) {
		if (s[0] != '*' || !s[1]) {
			free(s);
			return gh_errorf(GH_ERR_FORMAT, "type descriptor at 0x%llx: name flagged ExtraStar lacks the '*'",
					 (unsigned long long)addr);
		}
		memmove(s, s + 1, strlen(s));
	}
	*out = s;
	return NULL;
}

static char *arena_str(struct gh_types *T, char *s)
{
	size_t n = strlen(s) + 1;
	char *r = arena_alloc(T, n);
	if (r)
		memcpy(r, s, n);
	free(s);
	return r;
}

/* ---- decoding --------------------------------------------------------- */

/* Reads the kind-specific descriptor (the struct whose size_of is given). */
static struct gh_error *read_ext(struct gh_types *T, uint64_t addr, int64_t size_of, uint8_t *buf)
{
	if (!gh_read(T->p->t, addr, buf, (size_t)size_of))
		return gh_errorf(GH_ERR_FAULT, "type descriptor at 0x%llx is unreadable", (unsigned long long)addr);
	return NULL;
}

static struct gh_error *nonzero(uint64_t ref, const char *what, uint64_t addr)
{
	if (!ref)
		return gh_errorf(GH_ERR_FORMAT, "type descriptor at 0x%llx has no %s type", (unsigned long long)addr,
				 what);
	return NULL;
}

static struct gh_error *decode_struct(struct gh_types *T, uint64_t addr, struct gh_type *t, struct pend *pd)
{
	const struct gh_layout *L = T->L;
	uint8_t buf[DESC_BUF];
	GH_TRY(need(T, &L->structType.fields, L->structType.size_of, 16));
	GH_TRY(need(T, &L->structField.name, L->structField.size_of, 8));
	GH_TRY(need(T, &L->structField.typ, L->structField.size_of, 8));
	GH_TRY(need(T, &L->structField.offset, L->structField.size_of, 1));
	GH_TRY(read_ext(T, addr, L->structType.size_of, buf));
	uint64_t data = get64(buf, L->structType.fields.off), n = get64(buf, L->structType.fields.off + 8);
	if (n > MAX_FIELDS || (n && !data))
		return gh_errorf(GH_ERR_FORMAT, "struct type descriptor at 0x%llx (%s) has %llu fields at 0x%llx",
				 (unsigned long long)addr, t->name, (unsigned long long)n, (unsigned long long)data);
	if (!n)
		return NULL;
	size_t fsz = (size_t)L->structField.size_of;
	uint8_t *raw = malloc(n * fsz);
	t->fields = arena_alloc(T, n * sizeof(*t->fields));
	pd->ftypes = malloc(n * sizeof(*pd->ftypes));
	if (!raw || !t->fields || !pd->ftypes) {
		free(raw);
		return &gh_error_nomem;
	}
	struct gh_error *err = NULL;
	if (!gh_read(T->p->t, data, raw, n * fsz))
		err = gh_errorf(GH_ERR_FAULT, "fields of the struct type descriptor at 0x%llx (%s) are unreadable at 0x%llx",
				(unsigned long long)addr, t->name, (unsigned long long)data);
	uint64_t prev = 0;
	for (uint64_t i = 0; !err && i < n; i++) {
		const uint8_t *f = raw + i * fsz;
		uint64_t name = get64(f, L->structField.name.off);
		uint64_t typ = get64(f, L->structField.typ.off);
		uint64_t off = getf(f, &L->structField.offset);
		if (!typ || off > t->size || off < prev) {
			err = gh_errorf(GH_ERR_FORMAT,
					"struct type descriptor at 0x%llx (%s): field %llu has type 0x%llx at offset %llu",
					(unsigned long long)addr, t->name, (unsigned long long)i, (unsigned long long)typ,
					(unsigned long long)off);
			break;
		}
		char *s;
		uint8_t fl;
		if ((err = read_name(T, name, "a field name", addr, &s, &fl)))
			break;
		struct gh_type_field *tf = &t->fields[i];
		if (!(tf->name = arena_str(T, s))) {
			err = &gh_error_nomem;
			break;
		}
		tf->offset = off;
		tf->embedded = fl & (1 << 3); /* internal/abi.Name.IsEmbedded */
		pd->ftypes[i] = typ;
		prev = off;
	}
	free(raw);
	if (!err)
		t->nfields = (uint32_t)n;
	return err;
}

static struct gh_error *decode_map(struct gh_types *T, uint64_t addr, struct gh_type *t, struct pend *pd)
{
	const struct gh_layout *L = T->L;
	uint8_t buf[DESC_BUF];
	if (L->swissMapType.group.off >= 0) {
		int64_t so = L->swissMapType.size_of;
		GH_TRY(need(T, &L->swissMapType.key, so, 8));
		GH_TRY(need(T, &L->swissMapType.elem, so, 8));
		GH_TRY(need(T, &L->swissMapType.group, so, 8));
		GH_TRY(need(T, &L->swissMapType.groupSize, so, 1));
		GH_TRY(read_ext(T, addr, so, buf));
		t->map_swiss = true;
		pd->key = getf(buf, &L->swissMapType.key);
		pd->elem = getf(buf, &L->swissMapType.elem);
		pd->bucket = getf(buf, &L->swissMapType.group);
		t->map_groupsize = getf(buf, &L->swissMapType.groupSize);
		if (L->swissMapType.keysOff.off >= 0) {
			GH_TRY(need(T, &L->swissMapType.keyStride, so, 1));
			GH_TRY(need(T, &L->swissMapType.elemsOff, so, 1));
			GH_TRY(need(T, &L->swissMapType.elemStride, so, 1));
			t->map_keysoff = getf(buf, &L->swissMapType.keysOff);
			t->map_keystride = getf(buf, &L->swissMapType.keyStride);
			t->map_elemsoff = getf(buf, &L->swissMapType.elemsOff);
			t->map_elemstride = getf(buf, &L->swissMapType.elemStride);
		} else {
			/* Interleaved slots; map_keysoff comes from the group
			 * type once it is decoded (check_refs). */
			GH_TRY(need(T, &L->swissMapType.slotSize, so, 1));
			GH_TRY(need(T, &L->swissMapType.elemOff, so, 1));
			t->map_slotsize = getf(buf, &L->swissMapType.slotSize);
			t->map_elemoff = getf(buf, &L->swissMapType.elemOff);
			t->map_keystride = t->map_elemstride = t->map_slotsize;
		}
		if (t->map_groupsize > MAX_SIZE || t->map_slotsize > t->map_groupsize ||
		    t->map_elemoff > t->map_slotsize || t->map_keysoff > t->map_groupsize ||
		    t->map_elemsoff > t->map_groupsize || t->map_keystride > t->map_groupsize ||
		    t->map_elemstride > t->map_groupsize)
			return gh_errorf(GH_ERR_FORMAT, "map type descriptor at 0x%llx (%s) has an implausible group layout (group size %llu)",
					 (unsigned long long)addr, t->name, (unsigned long long)t->map_groupsize);
	} else if (L->bucketMapType.bucket.off >= 0) {
		int64_t so = L->bucketMapType.size_of;
		GH_TRY(need(T, &L->bucketMapType.key, so, 8));
		GH_TRY(need(T, &L->bucketMapType.elem, so, 8));
		GH_TRY(need(T, &L->bucketMapType.bucket, so, 8));
		GH_TRY(need(T, &L->bucketMapType.keySize, so, 1));
		GH_TRY(need(T, &L->bucketMapType.valueSize, so, 1));
		GH_TRY(need(T, &L->bucketMapType.bucketSize, so, 1));
		GH_TRY(read_ext(T, addr, so, buf));
		pd->key = getf(buf, &L->bucketMapType.key);
		pd->elem = getf(buf, &L->bucketMapType.elem);
		pd->bucket = getf(buf, &L->bucketMapType.bucket);
		t->map_keysize = (uint32_t)getf(buf, &L->bucketMapType.keySize);
		t->map_valuesize = (uint32_t)getf(buf, &L->bucketMapType.valueSize);
		t->map_bucketsize = (uint32_t)getf(buf, &L->bucketMapType.bucketSize);
	} else {
		return gh_errorf(GH_ERR_MISSING,
				 "the DWARF of %s describes no map type descriptor (looked for %s with field Group and for %s with field Bucket)",
				 ver(T), "internal/abi.SwissMapType|internal/abi.MapType",
				 "internal/abi.OldMapType|internal/abi.MapType|runtime.maptype");
	}
	GH_TRY(nonzero(pd->key, "key", addr));
	GH_TRY(nonzero(pd->elem, "value", addr));
	return nonzero(pd->bucket, "bucket or group", addr);
}

/* The one-pointer descriptors: Type followed by Elem. */
static struct gh_error *decode_elem(struct gh_types *T, uint64_t addr, const struct gh_field *f, int64_t size_of,
				    struct pend *pd)
{
	uint8_t buf[DESC_BUF];
	GH_TRY(need(T, f, size_of, 8));
	GH_TRY(read_ext(T, addr, size_of, buf));
	pd->elem = getf(buf, f);
	return nonzero(pd->elem, "element", addr);
}

/* Decodes the descriptor at addr (not yet interned), interns it and queues
 * the descriptors it names. */
static struct gh_error *decode_one(struct gh_types *T, uint64_t addr, struct pendvec *q, gh_type_id *id)
{
	const struct gh_layout *L = T->L;
	struct hdr h;
	GH_TRY(read_hdr(T, addr, &h));
	char *name;
	GH_TRY(type_name(T, addr, &h, &name));
	struct gh_error *err = type_new(T, addr, id);
	if (err) {
		free(name);
		return err;
	}
	struct gh_type *t = type_mut(T, *id);
	if (!(t->name = arena_str(T, name)))
		return &gh_error_nomem;
	t->kind = h.kind;
	t->size = h.size;
	t->ptrdata = h.ptrdata;
	t->tflag = h.tflag;
	t->gcdata = getf(h.buf, &L->type.gcdata);
	t->direct_iface = (h.kind_byte & T->kind_direct) || (h.tflag & T->tflag_direct);
	struct pend *pd = pendvec_push(q);
	if (!pd)
		return &gh_error_nomem;
	pd->id = *id;
	switch (h.kind) {
	case GH_KIND_POINTER:
		return decode_elem(T, addr, &L->ptrType.elem, L->ptrType.size_of, pd);
	case GH_KIND_SLICE:
		return decode_elem(T, addr, &L->sliceType.elem, L->sliceType.size_of, pd);
	case GH_KIND_CHAN:
		return decode_elem(T, addr, &L->chanType.elem, L->chanType.size_of, pd);
	case GH_KIND_ARRAY: {
		uint8_t buf[DESC_BUF];
		GH_TRY(need(T, &L->arrayType.len, L->arrayType.size_of, 8));
		GH_TRY(decode_elem(T, addr, &L->arrayType.elem, L->arrayType.size_of, pd));
		GH_TRY(read_ext(T, addr, L->arrayType.size_of, buf));
		t->len = getf(buf, &L->arrayType.len);
		return NULL;
	}
	case GH_KIND_MAP:
		return decode_map(T, addr, t, pd);
	case GH_KIND_STRUCT:
		return decode_struct(T, addr, t, pd);
	default:
		/* Scalars, strings, funcs and interfaces: the name says it all. */
		return NULL;
	}
}

static struct gh_error *ref(struct gh_types *T, uint64_t addr, struct pendvec *q, gh_type_id *out)
{
	if ((*out = hash_get(T, addr)))
		return NULL;
	return decode_one(T, addr, q, out);
}

/* Checks that need the referenced types: sizes must add up. */
static struct gh_error *check_refs(struct gh_types *T, struct gh_type *t)
{
	if (t->kind == GH_KIND_ARRAY) {
		uint64_t es = type_mut(T, t->elem)->size;
		if (es ? (t->size % es || t->size / es != t->len) : t->size != 0)
			return gh_errorf(GH_ERR_FORMAT, "array type descriptor at 0x%llx (%s): %llu elements of %llu bytes in %llu",
					 (unsigned long long)t->addr, t->name, (unsigned long long)t->len,
					 (unsigned long long)es, (unsigned long long)t->size);
	}
	if (t->kind == GH_KIND_MAP && t->map_swiss) {
		const struct gh_type *g = type_mut(T, t->map_bucket);
		if (g->size != t->map_groupsize)
			return gh_errorf(GH_ERR_FORMAT, "map type descriptor at 0x%llx (%s): group size %llu, group type %llu",
					 (unsigned long long)t->addr, t->name, (unsigned long long)t->map_groupsize,
					 (unsigned long long)g->size);
		if (T->L->swissMapType.keysOff.off < 0) {
			/* Up to 1.26 a group is struct { ctrl uint64; slots [8]slot }. */
			uint32_t i = 0;
			while (i < g->nfields && strcmp(g->fields[i].name, "slots"))
				i++;
			if (i == g->nfields)
				return gh_errorf(GH_ERR_FORMAT, "map type descriptor at 0x%llx (%s): group type %s has no slots field",
						 (unsigned long long)t->addr, t->name, g->name);
			t->map_keysoff = g->fields[i].offset;
			t->map_elemsoff = t->map_keysoff + t->map_elemoff;
		}
	}
	for (uint32_t i = 0; i < t->nfields; i++) {
		uint64_t fs = type_mut(T, t->fields[i].type)->size;
		if (fs > t->size - t->fields[i].offset)
			return gh_errorf(GH_ERR_FORMAT,
					 "struct type descriptor at 0x%llx (%s): field %s (%llu bytes at %llu) overruns its %llu bytes",
					 (unsigned long long)t->addr, t->name, t->fields[i].name, (unsigned long long)fs,
					 (unsigned long long)t->fields[i].offset, (unsigned long long)t->size);
	}
	return NULL;
}

static struct gh_error *intern(struct gh_types *T, uint64_t addr, gh_type_id *id)
{
	struct pendvec q = { 0 };
	struct gh_error *err = decode_one(T, addr, &q, id);
	for (size_t i = 0; !err && i < q.len; i++) {
		struct pend pd = q.data[i]; /* copy: q grows */
		struct gh_type *t = type_mut(T, pd.id);
		if (pd.elem && (err = ref(T, pd.elem, &q, &t->elem)))
			break;
		if (pd.key && (err = ref(T, pd.key, &q, &t->key)))
			break;
		if (pd.bucket && (err = ref(T, pd.bucket, &q, &t->map_bucket)))
			break;
		for (uint32_t f = 0; !err && f < t->nfields; f++)
			err = ref(T, pd.ftypes[f], &q, &t->fields[f].type);
		if (!err)
			err = check_refs(T, t);
	}
	for (size_t i = 0; i < q.len; i++)
		free(q.data[i].ftypes);
	free(q.data);
	return err;
}

struct gh_error *gh_type_at(struct gh_types *T, uint64_t addr, gh_type_id *id)
{
	*id = 0;
	if ((*id = hash_get(T, addr)))
		return NULL;
	uint32_t count = T->count;
	struct arena_mark m = arena_mark(T);
	struct gh_error *err = intern(T, addr, id);
	if (err) {
		*id = 0;
		arena_reset(T, m);
		if (T->count != count) {
			__atomic_store_n(&T->count, count, __ATOMIC_RELEASE);
			if (!hash_rebuild(T, T->hcap)) {
				gh_error_free(err);
				return &gh_error_nomem;
			}
		}
	}
	return err;
}

const struct gh_type *gh_type_get(const struct gh_types *T, gh_type_id id)
{
	if (!T || id == 0 || id > __atomic_load_n(&T->count, __ATOMIC_ACQUIRE))
		return NULL;
	return &T->chunks[(id - 1) >> CHUNK_BITS][(id - 1) & (CHUNK - 1)];
}

uint32_t gh_types_count(const struct gh_types *T)
{
	return T ? T->count : 0;
}

/* ---- set up ----------------------------------------------------------- */

static struct gh_error *need_const(const struct gh_types *T, const struct gh_const *c, const char *names)
{
	if (c->have && c->v > 0 && c->v < 256)
		return NULL;
	if (!c->have)
		return gh_errorf(GH_ERR_MISSING, "the runtime of %s has no constant %s (needed to decode type descriptors)",
				 ver(T), names);
	return gh_errorf(GH_ERR_FORMAT, "the runtime constant %s of %s is %lld, not a flag bit", names, ver(T),
			 (long long)c->v);
}

static struct gh_error *load_modules(struct gh_types *T)
{
	struct gh_program *p = T->p;
	const struct gh_layout *L = T->L;
	GH_TRY(gh_layout_require(L, &L->moduledata.types, ver(T)));
	GH_TRY(gh_layout_require(L, &L->moduledata.etypes, ver(T)));
	if (!p->moduledata)
		return gh_errorf(GH_ERR_MISSING, "cannot find runtime.firstmoduledata, which locates the type descriptors");
	uint64_t md = p->moduledata;
	for (size_t i = 0; md && i < MAX_MODULES; i++) {
		struct module *m = &T->mods[T->nmods];
		m->md = md;
		if (!gh_read_field(p, md, &L->moduledata.types, &m->types) ||
		    !gh_read_field(p, md, &L->moduledata.etypes, &m->etypes))
			return gh_errorf(GH_ERR_FAULT, "moduledata at 0x%llx is unreadable", (unsigned long long)md);
		if (m->types >= m->etypes || m->etypes - m->types > (1ull << 40))
			return gh_errorf(GH_ERR_FORMAT, "moduledata at 0x%llx: type data [0x%llx, 0x%llx) is implausible",
					 (unsigned long long)md, (unsigned long long)m->types,
					 (unsigned long long)m->etypes);
		T->nmods++;
		if (!gh_read_field(p, md, &L->moduledata.next, &md))
			break;
	}
	return NULL;
}

static struct gh_error *setup(struct gh_types *T)
{
	const struct gh_layout *L = T->L;
	GH_TRY(gh_layout_require(L, &L->type.size, ver(T)));
	GH_TRY(need(T, &L->type.size, L->type.size_of, 8));
	GH_TRY(need(T, &L->type.ptrBytes, L->type.size_of, 8));
	GH_TRY(need(T, &L->type.tflag, L->type.size_of, 1));
	GH_TRY(need(T, &L->type.kind, L->type.size_of, 1));
	GH_TRY(need(T, &L->type.str, L->type.size_of, 4));
	GH_TRY(need_const(T, &L->c.tflagExtraStar, "internal/abi.TFlagExtraStar"));
	T->tflag_extra_star = (uint8_t)L->c.tflagExtraStar.v;
	/* Kind_ is the whole kind when the release has no mask (1.26+). */
	T->kind_mask = L->c.kindMask.have ? (uint8_t)L->c.kindMask.v : 0xff;
	/* Direct-interface: a TFlag bit where the release defines one (1.26+,
	 * which keeps KindDirectIface only as a breadcrumb), else a Kind_ bit. */
	if (L->c.tflagDirectIface.have) {
		GH_TRY(need_const(T, &L->c.tflagDirectIface, "internal/abi.TFlagDirectIface"));
		T->tflag_direct = (uint8_t)L->c.tflagDirectIface.v;
	} else {
		GH_TRY(need_const(T, &L->c.kindDirectIface,
				  "internal/abi.TFlagDirectIface or internal/abi.KindDirectIface|runtime.kindDirectIface"));
		T->kind_direct = (uint8_t)L->c.kindDirectIface.v;
	}
	return load_modules(T);
}

struct gh_error *gh_types_new(struct gh_program *p, struct gh_types **out)
{
	*out = NULL;
	struct gh_types *T = calloc(1, sizeof(*T));
	if (!T)
		return &gh_error_nomem;
	T->p = p;
	T->L = &p->L;
	struct gh_error *err = setup(T);
	if (err) {
		gh_types_free(T);
		return err;
	}
	*out = T;
	return NULL;
}

void gh_types_free(struct gh_types *T)
{
	if (!T)
		return;
	for (size_t i = 0; i < T->nchunks; i++)
		free(T->chunks[i]);
	free(T->chunks);
	free(T->hkeys);
	free(T->hids);
	arena_reset(T, (struct arena_mark){ NULL, 0 });
	for (size_t i = 0; i < T->ncands; i++)
		free(T->cands[i].name);
	free(T->cands);
	free(T->bucket_maps);
	free(T);
}

/* ---- by name ---------------------------------------------------------- */

static gh_type_id find_interned(const struct gh_types *T, const char *name)
{
	for (gh_type_id id = 1; id <= T->count; id++)
		if (!strcmp(gh_type_get(T, id)->name, name))
			return id;
	return 0;
}

static bool add_cand(struct gh_types *T, size_t *cap, uint64_t addr)
{
	struct hdr h;
	char *name;
	struct gh_error *err = read_hdr(T, addr, &h);
	if (!err)
		err = type_name(T, addr, &h, &name);
	if (err) {
		gh_error_free(err);
		return true; /* skip it */
	}
	if (T->ncands == *cap) {
		size_t n = *cap ? 2 * *cap : 1024;
		struct cand *c = realloc(T->cands, n * sizeof(*c));
		if (!c) {
			free(name);
			return false;
		}
		T->cands = c;
		*cap = n;
	}
	T->cands[T->ncands++] = (struct cand){ name, addr };
	return true;
}

/* The bytes a descriptor occupies, as internal/abi.Type.DescriptorSize
 * (1.27+) computes it: the kind's struct, the UncommonType and its methods,
 * and the trailing parameter, method or field array.  0: cannot tell. */
static uint64_t desc_size(struct gh_types *T, uint64_t addr)
{
	const struct gh_layout *L = T->L;
	struct hdr h;
	struct gh_error *err = read_hdr(T, addr, &h);
	if (err) {
		gh_error_free(err);
		return 0;
	}
	int64_t base = L->type.size_of;
	uint64_t add = 0;
	uint8_t buf[DESC_BUF];
	switch (h.kind) {
	case GH_KIND_ARRAY: base = L->arrayType.size_of; break;
	case GH_KIND_CHAN: base = L->chanType.size_of; break;
	case GH_KIND_POINTER: base = L->ptrType.size_of; break;
	case GH_KIND_SLICE: base = L->sliceType.size_of; break;
	case GH_KIND_MAP:
		base = L->swissMapType.group.off >= 0 ? L->swissMapType.size_of : L->bucketMapType.size_of;
		break;
	case GH_KIND_FUNC:
		base = L->funcType.size_of;
		if (base <= 0 || base > DESC_BUF || L->funcType.inCount.off < 0 || L->funcType.outCount.off < 0 ||
		    !gh_read(T->p->t, addr, buf, (size_t)base))
			return 0;
		add = (getf(buf, &L->funcType.inCount) + (getf(buf, &L->funcType.outCount) & 0x7fff)) * L->ptrSize;
		break;
	case GH_KIND_INTERFACE:
		base = L->interfaceType.size_of;
		if (base <= 0 || base > DESC_BUF || L->interfaceType.methods.off < 0 || L->imethod.size_of <= 0 ||
		    !gh_read(T->p->t, addr, buf, (size_t)base))
			return 0;
		add = get64(buf, L->interfaceType.methods.off + 8) * (uint64_t)L->imethod.size_of;
		break;
	case GH_KIND_STRUCT:
		base = L->structType.size_of;
		if (base <= 0 || base > DESC_BUF || L->structType.fields.off < 0 || L->structField.size_of <= 0 ||
		    !gh_read(T->p->t, addr, buf, (size_t)base))
			return 0;
		add = get64(buf, L->structType.fields.off + 8) * (uint64_t)L->structField.size_of;
		break;
	default:
		break;
	}
	if (base <= 0 || add > (1u << 24))
		return 0;
	uint64_t n = (uint64_t)base + add;
	if (h.tflag & (uint8_t)L->c.tflagUncommon.v) {
		uint64_t mcount = 0;
		if (!L->c.tflagUncommon.have || L->uncommonType.size_of <= 0 || L->method.size_of <= 0 ||
		    !gh_read_field(T->p, addr + (uint64_t)base, &L->uncommonType.mcount, &mcount))
			return 0;
		n += (uint64_t)L->uncommonType.size_of + mcount * (uint64_t)L->method.size_of;
	}
	return n;
}

/* The descriptors reflect can look up by name: moduledata.typelinks (offsets
 * from types, up to 1.26), or from 1.27 the typelink descriptors laid out
 * back to back in [types + ptrSize, types + typedesclen). */
static void load_cands(struct gh_types *T)
{
	const struct gh_layout *L = T->L;
	size_t cap = 0;
	T->cands_loaded = true;
	for (size_t i = 0; i < T->nmods; i++) {
		const struct module *m = &T->mods[i];
		uint64_t sl[2], tdl;
		if (L->moduledata.typelinks.off >= 0) {
			if (!gh_read(T->p->t, m->md + (uint64_t)L->moduledata.typelinks.off, sl, sizeof(sl)) ||
			    sl[1] > MAX_TYPELINKS)
				continue;
			int32_t *offs = malloc(sl[1] * sizeof(*offs) + 1);
			if (!offs)
				return;
			if (gh_read(T->p->t, sl[0], offs, sl[1] * sizeof(*offs)))
				for (uint64_t k = 0; k < sl[1]; k++)
					if (offs[k] > 0 && m->types + (uint64_t)offs[k] < m->etypes &&
					    !add_cand(T, &cap, m->types + (uint64_t)offs[k]))
						break;
			free(offs);
		} else if (L->moduledata.typedesclen.off >= 0 &&
			   gh_read_field(T->p, m->md, &L->moduledata.typedesclen, &tdl) &&
			   tdl <= m->etypes - m->types) {
			uint64_t a = m->types + L->ptrSize, end = m->types + tdl;
			for (size_t k = 0; a < end && k < MAX_TYPELINKS; k++) {
				a = (a + L->ptrSize - 1) & ~(uint64_t)(L->ptrSize - 1);
				uint64_t n = desc_size(T, a);
				if (!n || !add_cand(T, &cap, a))
					break;
				a += n;
			}
		}
	}
}

/* Interns the listed descriptor named name, if any. */
static gh_type_id cand_lookup(struct gh_types *T, const char *name)
{
	for (size_t i = 0; i < T->ncands; i++) {
		gh_type_id id;
		if (strcmp(T->cands[i].name, name))
			continue;
		struct gh_error *err = gh_type_at(T, T->cands[i].addr, &id);
		if (!err)
			return id;
		gh_error_free(err);
	}
	return 0;
}

/* Interns every listed descriptor and what it reaches, once. */
static void intern_listed(struct gh_types *T)
{
	if (!T->cands_loaded)
		load_cands(T);
	if (T->closure_done)
		return;
	T->closure_done = true;
	for (size_t i = 0; i < T->ncands; i++) {
		gh_type_id id;
		struct gh_error *err = gh_type_at(T, T->cands[i].addr, &id);
		gh_error_free(err);
	}
}

gh_type_id gh_type_map_of_bucket(struct gh_types *T, gh_type_id bucket)
{
	if (!T || !bucket)
		return 0;
	if (!T->bucket_maps_built) {
		/* Every unnamed map type is listed (reflect's MapOf must find
		 * it), and a named one is reached through what lists it. */
		T->bucket_maps_built = true;
		intern_listed(T);
		if (!(T->bucket_maps = calloc((size_t)T->count + 1, sizeof(*T->bucket_maps))))
			return 0;
		T->nbucket_maps = T->count + 1;
		for (gh_type_id id = 1; id <= T->count; id++) {
			const struct gh_type *t = gh_type_get(T, id);
			gh_type_id *m = t->kind == GH_KIND_MAP && t->map_bucket < T->nbucket_maps ? &T->bucket_maps[t->map_bucket] : NULL;
			/* A named map type shares its unnamed twin's bucket type:
			 * keep the unnamed one (its name says what the map holds). */
			if (m && (!*m || (strncmp(gh_type_get(T, *m)->name, "map[", 4) && !strncmp(t->name, "map[", 4))))
				*m = id;
		}
	}
	return bucket < T->nbucket_maps ? T->bucket_maps[bucket] : 0;
}

gh_type_id gh_type_by_name(struct gh_types *T, const char *name)
{
	if (!T || !name || !*name)
		return 0;
	gh_type_id id = find_interned(T, name);
	if (id)
		return id;
	if (!T->cands_loaded)
		load_cands(T);
	if ((id = cand_lookup(T, name)))
		return id;
	/* Named types are not typelinks, but a pointer to them usually is. */
	size_t n = strlen(name);
	char *star = malloc(n + 2);
	if (star) {
		star[0] = '*';
		memcpy(star + 1, name, n + 1);
		id = cand_lookup(T, star);
		free(star);
		const struct gh_type *pt = gh_type_get(T, id);
		if (pt && pt->kind == GH_KIND_POINTER && !strcmp(gh_type_get(T, pt->elem)->name, name))
			return pt->elem;
	}
	/* Any type the listed ones reach (struct fields, map keys, ...). */
	if (!T->closure_done) {
		intern_listed(T);
		if ((id = find_interned(T, name)))
			return id;
	}
	/* Last, the DWARF type of that name, when the binary has one. */
	uint64_t off;
	if (T->nmods && gh_dwarf_type_runtime_type(T->p->dw, name, &off)) {
		struct gh_error *err = gh_type_at(T, T->mods[0].types + off, &id);
		if (!err && !strcmp(gh_type_get(T, id)->name, name))
			return id;
		gh_error_free(err);
	}
	return 0;
}

uint64_t gh_types_global_type(struct gh_types *T, const char *var_name)
{
	uint64_t off;
	if (!T || !T->nmods || !gh_dwarf_variable_runtime_type(T->p->dw, var_name, &off))
		return 0;
	/* A global's type belongs to the module that defines it: the first
	 * (goheap reads statically linked programs). */
	return T->mods[0].types + off;
}
