#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"
#include "sha512.h"

/* Digest of len bytes at p, fed in pieces of step bytes, as hex. */
static void
digest_of(bool is384, const void *p, size_t len, size_t step, char *out)
{
	struct ps_sha512 c;
	unsigned char d[PS_SHA512_LEN];
	size_t i;

	if (is384)
		ps_sha384_init(&c);
	else
		ps_sha512_init(&c);
	for (i = 0; i < len; i += step)
		ps_sha512_update(&c, (const char *)p + i,
		    len - i < step ? len - i : step);
	ps_sha512_final(&c, d);
	for (i = 0; i < c.out_len; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

Test(sha512, fips_vectors)
{
	const char *two = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghij"
	    "klmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char h[129];

	digest_of(false, "", 0, 1, h);
	cr_assert_str_eq(h, "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc"
	    "83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81"
	    "a538327af927da3e");
	digest_of(false, "abc", 3, 3, h);
	cr_assert_str_eq(h, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea2"
	    "0a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e"
	    "2a9ac94fa54ca49f");
	/* 112 bytes: the padding needs a block of its own. */
	digest_of(false, two, strlen(two), 7, h);
	cr_assert_str_eq(h, "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa1"
	    "7299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd2654"
	    "5e96e55b874be909");
	digest_of(true, "abc", 3, 1, h);
	cr_assert_str_eq(h, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
	    "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
	digest_of(true, two, strlen(two), 112, h);
	cr_assert_str_eq(h, "09330c33f71147e83d192fc782cd1b4753111b173b3b05d2"
	    "2fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039");
}

Test(sha512, million_a)
{
	static char a[1000000];
	char h[129];

	memset(a, 'a', sizeof a);
	digest_of(false, a, sizeof a, 4099, h);
	cr_assert_str_eq(h, "e718483d0ce769644e2e42c7bc15b4638e1f98b13b204428"
	    "5632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e"
	    "4eadb217ad8cc09b");
}

Test(sha512, b64url_as_record_spells_it)
{
	struct ps_sha512 c;
	unsigned char d[PS_SHA512_LEN];
	char got[PS_SHA512_LEN * 4 / 3 + 2];

	/* python3: base64.urlsafe_b64encode(hashlib.sha384(b"").digest()) */
	ps_sha384_init(&c);
	ps_sha512_final(&c, d);
	ps_b64url(d, PS_SHA384_LEN, got);
	cr_assert_str_eq(got, "OLBgp1GsljhM2TJ-sbHjaiH9txEUvgdDTAzHv2P24donTt6_"
	    "529l-9Ua0vFImLlb");
	ps_b64url((const unsigned char *)"\xfb\xff", 2, got);
	cr_assert_str_eq(got, "-_8");
	ps_b64url((const unsigned char *)"abc", 3, got);
	cr_assert_str_eq(got, "YWJj");
}
