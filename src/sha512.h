/*
 * sha512.h - SHA-512 and SHA-384 (FIPS 180-4), for wheel RECORD hashes
 * stronger than sha256 (the wheel spec allows any hashlib algorithm of at
 * least its strength; sha384 and sha512 are the ones tools write).
 *
 * Self-contained like sha256.h.  ps_sha512_init() or ps_sha384_init(),
 * any number of ps_sha512_update(), then ps_sha512_final(), which writes
 * the digest's c->out_len bytes (64 or 48).  No heap memory.
 */
#ifndef PS_SHA512_H
#define PS_SHA512_H

#include <stddef.h>
#include <stdint.h>

#define PS_SHA512_LEN 64
#define PS_SHA384_LEN 48

struct ps_sha512 {
	uint64_t h[8];
	uint64_t len;              /* bytes hashed so far (< 2^61 here) */
	unsigned char buf[128];
	size_t fill;               /* bytes waiting in buf */
	size_t out_len;            /* 64, or 48 for SHA-384 */
};

void ps_sha512_init(struct ps_sha512 *c);
void ps_sha384_init(struct ps_sha512 *c);
void ps_sha512_update(struct ps_sha512 *c, const void *data, size_t len);
/* Writes c->out_len bytes to out; c must be initialised again for reuse. */
void ps_sha512_final(struct ps_sha512 *c, unsigned char *out);

#endif
