/* Go runtime type descriptors (internal/abi.Type and its kind-specific
 * extensions), decoded into one interned table: each distinct descriptor
 * address gets a small integer id, decoded once.  Types give heap objects
 * their names and let typed pointers, interfaces, maps, slices and channels
 * give types to the objects they point at. */
#ifndef GH_TYPES_H
#define GH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "../util/error.h"
#include "program.h"

/* Kinds as in internal/abi (the pure kind, without flag bits). */
enum gh_kind {
	GH_KIND_INVALID = 0, GH_KIND_BOOL, GH_KIND_INT, GH_KIND_INT8, GH_KIND_INT16, GH_KIND_INT32,
	GH_KIND_INT64, GH_KIND_UINT, GH_KIND_UINT8, GH_KIND_UINT16, GH_KIND_UINT32, GH_KIND_UINT64,
	GH_KIND_UINTPTR, GH_KIND_FLOAT32, GH_KIND_FLOAT64, GH_KIND_COMPLEX64, GH_KIND_COMPLEX128,
	GH_KIND_ARRAY, GH_KIND_CHAN, GH_KIND_FUNC, GH_KIND_INTERFACE, GH_KIND_MAP, GH_KIND_POINTER,
	GH_KIND_SLICE, GH_KIND_STRING, GH_KIND_STRUCT, GH_KIND_UNSAFE_POINTER,
};

typedef uint32_t gh_type_id; /* 0: no type */
/* Type ids are below 2^GH_TYPE_ID_BITS: a heap object's record keeps its
 * type id in that many bits. */
#define GH_TYPE_ID_BITS 19

/* reflect's name of a kind: "struct", "ptr", "unsafe.Pointer", ... */
const char *gh_kind_name(enum gh_kind k);

struct gh_type_field {
	const char *name;
	gh_type_id type;
	uint64_t offset;
	bool embedded;
};

struct gh_type {
	uint64_t addr;          /* descriptor address in the target */
	const char *name;       /* as the runtime prints it: "main.Payload", "*bytes.Buffer",
				   "[]uint8", "map[string]interface {}" */
	enum gh_kind kind;
	uint64_t size, ptrdata;
	uint8_t tflag;          /* TFlag bits as the descriptor holds them */
	uint64_t gcdata;        /* GCData: pointer mask (or program, or **mask; see TFlag/Kind_) */
	bool direct_iface;      /* an interface holding it stores the value itself in the data word */
	gh_type_id elem;        /* pointer, slice, array, chan, map value */
	gh_type_id key;         /* map key */
	uint64_t len;           /* array length */
	struct gh_type_field *fields; /* structs */
	uint32_t nfields;
	/* Maps: the bucket (≤1.23 and noswissmap) or group (swiss) type. */
	gh_type_id map_bucket;
	uint32_t map_keysize, map_valuesize, map_bucketsize; /* bucket maps */
	uint64_t map_groupsize, map_slotsize, map_elemoff;   /* swiss maps (slot fields: up to 1.26) */
	/* Swiss maps, every release: in a group, key i is at map_keysoff +
	 * i*map_keystride and value i at map_elemsoff + i*map_elemstride (1.27
	 * MapType fields; before, from the group type's "slots" field and
	 * SlotSize/ElemOff). */
	uint64_t map_keysoff, map_keystride, map_elemsoff, map_elemstride;
	bool map_swiss;
};

struct gh_types;

/* Needs the layout of internal/abi.Type, the TFlagExtraStar and
 * direct-interface constants and moduledata (GH_ERR_MISSING naming what is
 * absent, e.g. for a stripped executable without a built-in layout).
 * Kind-specific structs are required when a type of that kind is decoded.
 * See docs/types.md. */
struct gh_error *gh_types_new(struct gh_program *p, struct gh_types **out);
void gh_types_free(struct gh_types *t);
/* Interns the descriptor at addr (decoding it and, lazily, the types it
 * names); a descriptor that cannot be read or is implausible is an error. */
struct gh_error *gh_type_at(struct gh_types *t, uint64_t addr, gh_type_id *id);
/* The type for an id (NULL for 0 or out of range); valid until freed. */
const struct gh_type *gh_type_get(const struct gh_types *t, gh_type_id id);
uint32_t gh_types_count(const struct gh_types *t);
/* A type by exact name among those interned or listed in the module's
 * typelinks (1.27+: the typelink descriptors at the start of the type data),
 * their pointers' element types and everything they reach, then the DWARF
 * type of that name; 0 if none. */
gh_type_id gh_type_by_name(struct gh_types *t, const char *name);
/* The map type whose bucket (or swiss group) type is bucket, among every
 * type the module lists and what they reach, as interned at the first call;
 * 0 if none.  A named map type and its unnamed twin share a bucket type:
 * the unnamed one is returned. */
gh_type_id gh_type_map_of_bucket(struct gh_types *t, gh_type_id bucket);
/* The runtime type descriptor address of a DWARF type (DW_AT_go_runtime_type)
 * for a global variable, by the variable's name; 0 if unknown (also when the
 * linker kept no descriptor for the type, as for types nothing converts to
 * an interface).  Not interned: pass it to gh_type_at(). */
uint64_t gh_types_global_type(struct gh_types *t, const char *var_name);

#endif
