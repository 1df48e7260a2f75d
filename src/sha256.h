/*
 * sha256.h - SHA-256 (FIPS 180-4), for checking wheel RECORD hashes.
 *
 * A small self-contained implementation so that the static binary needs no
 * crypto library.  Usage: ps_sha256_init(), any number of
 * ps_sha256_update(), then ps_sha256_final() which writes the 32-byte
 * digest.  The context holds no heap memory.
 */
#ifndef PS_SHA256_H
#define PS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PS_SHA256_LEN 32

struct ps_sha256 {
	uint32_t h[8];
	uint64_t len;              /* bytes hashed so far */
	unsigned char buf[64];
	size_t fill;               /* bytes waiting in buf */
};

void ps_sha256_init(struct ps_sha256 *c);
void ps_sha256_update(struct ps_sha256 *c, const void *data, size_t len);
/* Writes the digest to out; c must be initialised again before reuse. */
void ps_sha256_final(struct ps_sha256 *c, unsigned char out[PS_SHA256_LEN]);

/*
 * Writes the digest as RECORD spells it (PEP 376, wheel spec): URL-safe
 * base64 without '=' padding, 43 characters and a NUL, into out.
 */
void ps_sha256_b64(const unsigned char digest[PS_SHA256_LEN], char out[44]);

/*
 * Writes the n bytes at d as RECORD spells a digest: URL-safe base64
 * (RFC 4648 section 5) without '=' padding, then a NUL.  out holds
 * (4 * n + 2) / 3 + 1 bytes.
 */
void ps_b64url(const unsigned char *d, size_t n, char *out);

#endif
