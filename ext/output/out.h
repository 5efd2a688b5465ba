/* One output layer for every command: a handler builds a small document
 * (objects, lists, tables of rows, typed scalars) and a renderer prints it as
 * human text or as JSON.  Both front ends render the same document, so a
 * command prints the same thing in the CLI and in GDB.
 *
 * Building never fails from the caller's point of view: on allocation
 * failure the document records it and rendering returns GH_ERR_NOMEM. */
#ifndef GH_OUT_H
#define GH_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../util/error.h"

struct gh_out;
struct gh_node;

struct gh_out *gh_out_new(void);
void gh_out_free(struct gh_out *o);
/* The document's top-level object. */
struct gh_node *gh_out_root(struct gh_out *o);
/* Adds a warning line (text: on stderr-like trailer; JSON: "warnings"). */
void gh_out_warn(struct gh_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Scalars in an object (or a table row), in insertion order. */
void gh_put_str(struct gh_node *n, const char *key, const char *val);
void gh_put_strf(struct gh_node *n, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void gh_put_u64(struct gh_node *n, const char *key, uint64_t v);
void gh_put_i64(struct gh_node *n, const char *key, int64_t v);
/* Addresses: hex in text and as a "0x..." string in JSON (exact beyond 2^53). */
void gh_put_addr(struct gh_node *n, const char *key, uint64_t v);
/* An address, or null when it is 0 (no such object). */
void gh_put_addr_or_null(struct gh_node *n, const char *key, uint64_t v);
/* Byte counts: "4.0 KiB" in text, a plain number in JSON. */
void gh_put_bytes(struct gh_node *n, const char *key, uint64_t v);
void gh_put_bool(struct gh_node *n, const char *key, bool v);
void gh_put_null(struct gh_node *n, const char *key);

struct gh_node *gh_put_object(struct gh_node *n, const char *key);
/* A list of objects (text: one indented block each). */
struct gh_node *gh_put_list(struct gh_node *n, const char *key);
struct gh_node *gh_list_add(struct gh_node *list);
/* A list of strings (text: comma separated on one line). */
void gh_list_str(struct gh_node *list, const char *val);
/* A list of numbers (text: space separated; JSON: an array). */
void gh_put_u64_list(struct gh_node *n, const char *key, const uint64_t *v, size_t count);
/* A list of addresses (text: space separated hex; JSON: "0x..." strings). */
void gh_put_addr_list(struct gh_node *n, const char *key, const uint64_t *v, size_t count);
/* A table: text renders aligned columns, JSON an array of row objects.
 * Rows get their cells with the gh_put_* calls, keys being column names. */
struct gh_node *gh_put_table(struct gh_node *n, const char *key);
struct gh_node *gh_table_row(struct gh_node *table);

enum gh_format { GH_TEXT, GH_JSON };
/* Renders the document; returns NULL or an error (GH_ERR_NOMEM, GH_ERR_IO). */
struct gh_error *gh_out_render(struct gh_out *o, enum gh_format fmt, FILE *f);
#endif
