/*
 * strlist.h - a growable list of owned strings, and a hash set of strings.
 *
 * Both copy what they are given and free it in their release/free call.
 * Neither is thread safe; each belongs to one target's processing.
 */
#ifndef PS_STRLIST_H
#define PS_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct ps_strlist {
	char **v;
	size_t n;
	size_t cap;
};

/* Appends a copy of s (len bytes, no NUL needed). Returns 0, or -1 (ENOMEM). */
int ps_strlist_pushn(struct ps_strlist *l, const char *s, size_t len);
int ps_strlist_push(struct ps_strlist *l, const char *s);
void ps_strlist_release(struct ps_strlist *l);
/*
 * Moves every string of from to the end of to, leaving from empty.
 * Returns 0, or -1 (ENOMEM; both lists unchanged).
 */
int ps_strlist_move(struct ps_strlist *to, struct ps_strlist *from);

struct ps_strset;

/* Returns a new empty set, or NULL when out of memory. */
struct ps_strset *ps_strset_new(void);
/* Frees the set and its strings; takes NULL. */
void ps_strset_free(struct ps_strset *s);
/*
 * Adds a copy of the len bytes at k.  Returns 1 when added, 0 when it was
 * already there, -1 when out of memory.
 */
int ps_strset_add(struct ps_strset *s, const char *k, size_t len);
/* Returns whether the len bytes at k are in the set. */
bool ps_strset_has(const struct ps_strset *s, const char *k, size_t len);
/* Returns the number of strings in the set. */
size_t ps_strset_count(const struct ps_strset *s);

#endif
