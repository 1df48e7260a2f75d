#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"

static void
hex(const unsigned char d[PS_SHA256_LEN], char out[65])
{
	int i;

	for (i = 0; i < PS_SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
digest_of(const void *p, size_t len, char out[65])
{
	struct ps_sha256 c;
	unsigned char d[PS_SHA256_LEN];

	ps_sha256_init(&c);
	ps_sha256_update(&c, p, len);
	ps_sha256_final(&c, d);
	hex(d, out);
}

Test(sha256, empty_input)
{
	char h[65];

	digest_of("", 0, h);
	cr_assert_str_eq(h,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, fips_abc)
{
	char h[65];

	digest_of("abc", 3, h);
	cr_assert_str_eq(h,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, two_block_message)
{
	const char *m =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char h[65];

	digest_of(m, strlen(m), h);
	cr_assert_str_eq(h,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, million_a_in_odd_pieces)
{
	static char a[1000];
	struct ps_sha256 c;
	unsigned char d[PS_SHA256_LEN];
	char h[65];
	size_t done = 0, step = 1;

	memset(a, 'a', sizeof a);
	ps_sha256_init(&c);
	while (done < 1000000) {
		size_t n = step % 997 + 1;

		if (n > 1000000 - done)
			n = 1000000 - done;
		ps_sha256_update(&c, a, n);
		done += n;
		step = step * 31 + 7;
	}
	ps_sha256_final(&c, d);
	hex(d, h);
	cr_assert_str_eq(h,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(sha256, record_base64_form)
{
	struct ps_sha256 c;
	unsigned char d[PS_SHA256_LEN];
	char b[44];

	/* RECORD spelling of sha256(""), as pip and wheel write it. */
	ps_sha256_init(&c);
	ps_sha256_final(&c, d);
	ps_sha256_b64(d, b);
	cr_assert_str_eq(b, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
}
