#include "strlist.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
ps_strlist_pushn(struct ps_strlist *l, const char *s, size_t len)
{
	char *copy;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	copy = malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, s, len);
	copy[len] = '\0';
	l->v[l->n++] = copy;
	return 0;
}

int
ps_strlist_push(struct ps_strlist *l, const char *s)
{
	return ps_strlist_pushn(l, s, strlen(s));
}

int
ps_strlist_move(struct ps_strlist *to, struct ps_strlist *from)
{
	if (from->n == 0)
		return 0;
	if (to->n + from->n > to->cap) {
		size_t cap = to->cap ? to->cap : 16;
		char **v;

		while (cap < to->n + from->n)
			cap *= 2;
		v = realloc(to->v, cap * sizeof *v);
		if (v == NULL)
			return -1;
		to->v = v;
		to->cap = cap;
	}
	memcpy(to->v + to->n, from->v, from->n * sizeof *from->v);
	to->n += from->n;
	from->n = 0;
	return 0;
}

void
ps_strlist_release(struct ps_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/*
 * Open addressing with linear probing; the table stays at most half full.
 * Each slot points at a heap block holding the length, then the bytes.
 */
struct slot {
	uint64_t hash;
	size_t len;
	char *key;
};

struct ps_strset {
	struct slot *slots;
	size_t cap;   /* a power of two */
	size_t count;
};

static uint64_t
hash(const char *k, size_t len)
{
	/* FNV-1a, 64 bit. */
	uint64_t h = 14695981039346656037ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct ps_strset *
ps_strset_new(void)
{
	struct ps_strset *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->cap = 64;
	s->slots = calloc(s->cap, sizeof *s->slots);
	if (s->slots == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
ps_strset_free(struct ps_strset *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->cap; i++)
		free(s->slots[i].key);
	free(s->slots);
	free(s);
}

static struct slot *
find(const struct ps_strset *s, const char *k, size_t len, uint64_t h)
{
	size_t i = (size_t)h & (s->cap - 1);

	for (;;) {
		struct slot *sl = &s->slots[i];

		if (sl->key == NULL)
			return sl;
		if (sl->hash == h && sl->len == len &&
		    memcmp(sl->key, k, len) == 0)
			return sl;
		i = (i + 1) & (s->cap - 1);
	}
}

static int
grow(struct ps_strset *s)
{
	struct ps_strset bigger = { 0 };
	size_t i;

	bigger.cap = s->cap * 2;
	bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
	if (bigger.slots == NULL)
		return -1;
	for (i = 0; i < s->cap; i++) {
		struct slot *from = &s->slots[i];

		if (from->key != NULL)
			*find(&bigger, from->key, from->len, from->hash) = *from;
	}
	free(s->slots);
	s->slots = bigger.slots;
	s->cap = bigger.cap;
	return 0;
}

int
ps_strset_add(struct ps_strset *s, const char *k, size_t len)
{
	uint64_t h = hash(k, len);
	struct slot *sl = find(s, k, len, h);

	if (sl->key != NULL)
		return 0;
	if ((s->count + 1) * 2 > s->cap) {
		if (grow(s) < 0)
			return -1;
		sl = find(s, k, len, h);
	}
	sl->key = malloc(len + 1);
	if (sl->key == NULL)
		return -1;
	memcpy(sl->key, k, len);
	sl->key[len] = '\0';
	sl->len = len;
	sl->hash = h;
	s->count++;
	return 1;
}

bool
ps_strset_has(const struct ps_strset *s, const char *k, size_t len)
{
	return find(s, k, len, hash(k, len))->key != NULL;
}

size_t
ps_strset_count(const struct ps_strset *s)
{
	return s->count;
}
