# mk/static.mk - the fully static binary and the release tarball.
#
#   make static   build/static/pycstrip: glibc, jansson, libarchive (a slim
#                 one built from Debian's source by scripts/build-libarchive.sh
#                 into build/libarchive, once), zstd, xz, bzip2 and zlib all
#                 linked in, stripped; then copied to build/pycstrip (SPEC:
#                 "make static builds a fully static build/pycstrip").
#   make dist     dist/pycstrip-VERSION-linux-ARCH.tar.gz (the static binary,
#                 README.md, LICENSE, summary.schema.json under one top
#                 directory; sorted, fixed owner and mtime, gzip -n) and
#                 dist/SHA256SUMS.
#   make test     also runs the end-to-end suite against build/static/pycstrip
#                 (tests/run.sh picks it up when it exists); see
#                 static-if-possible below.
#
# The static objects are compiled in their own build directory by a
# recursive make of the same Makefile, so that flags never mix.
STATIC_BUILD := build/static
LIBARCHIVE_DIR := build/libarchive
STATIC_LIBS := $(LIBARCHIVE_DIR)/lib/libarchive.a -ljansson -lzstd -llzma \
               -lbz2 -ldeflate -lz
VERSION = $(shell sed -n 's/^\#define PS_VERSION "\(.*\)"/\1/p' src/pycstrip.h)
ARCH = $(shell uname -m)
DIST_NAME = pycstrip-$(VERSION)-linux-$(ARCH)

.PHONY: static static-binary static-check

# Only in the top-level make: the recursive one builds the binary itself.
ifneq ($(BUILD),$(STATIC_BUILD))

$(LIBARCHIVE_DIR)/lib/libarchive.a: scripts/build-libarchive.sh
	@sh scripts/build-libarchive.sh $(LIBARCHIVE_DIR)
	@touch $@

static-binary: $(LIBARCHIVE_DIR)/lib/libarchive.a
	@$(MAKE) --no-print-directory BUILD=$(STATIC_BUILD) \
	    PKG_CFLAGS=-I$(LIBARCHIVE_DIR)/include \
	    PKG_LIBS="$(STATIC_LIBS)" \
	    OPT="-O2 -ffunction-sections -fdata-sections" \
	    LDFLAGS="-static -s -Wl,--gc-sections" \
	    $(STATIC_BUILD)/pycstrip
	@$(MAKE) --no-print-directory static-check

# Fully static, small, and no NSS: glibc's linker warnings about getpwnam
# and friends would mean a lookup crept in.
static-check:
	@file $(STATIC_BUILD)/pycstrip | grep -q 'statically linked' || \
	    { echo "static: $(STATIC_BUILD)/pycstrip is not statically linked" >&2; exit 1; }
	@size=$$(stat -c %s $(STATIC_BUILD)/pycstrip); \
	    [ $$size -le 3145728 ] || \
	    { echo "static: $(STATIC_BUILD)/pycstrip is $$size bytes (> 3 MB)" >&2; exit 1; }
	@! readelf -lW $(STATIC_BUILD)/pycstrip | grep -q INTERP || \
	    { echo "static: $(STATIC_BUILD)/pycstrip has an interpreter" >&2; exit 1; }

static: static-binary
	cp $(STATIC_BUILD)/pycstrip $(BUILD)/.pycstrip.static
	mv -f $(BUILD)/.pycstrip.static $(BUILD)/pycstrip

# make test: the static binary too.  Where Debian's libarchive source cannot
# be fetched, a developer's `make test` goes on without it (loudly); in CI
# (CI=true) that is a failure.
.PHONY: static-if-possible
static-if-possible:
	@$(MAKE) --no-print-directory static-binary || { \
	    if [ "$(CI)" = true ]; then exit 1; fi; \
	    rm -f $(STATIC_BUILD)/pycstrip; \
	    echo "# WARNING: static binary not built: its end-to-end run is skipped" >&2; }

test: static-if-possible

dist: static-binary
	@rm -rf dist/$(DIST_NAME) dist/$(DIST_NAME).tar.gz
	@mkdir -p dist/$(DIST_NAME)
	cp $(STATIC_BUILD)/pycstrip README.md LICENSE dist/$(DIST_NAME)/
	cp schema/summary.schema.json dist/$(DIST_NAME)/
	chmod 0755 dist/$(DIST_NAME)/pycstrip
	chmod 0644 dist/$(DIST_NAME)/README.md dist/$(DIST_NAME)/LICENSE \
	    dist/$(DIST_NAME)/summary.schema.json
	@epoch=$$(git log -1 --format=%ct 2>/dev/null || echo 0); \
	cd dist && tar --sort=name --format=ustar --owner=0 --group=0 \
	    --numeric-owner --mtime=@$$epoch --mode='u+w,go-w' \
	    -cf - $(DIST_NAME) | gzip -n -9 >$(DIST_NAME).tar.gz
	@rm -rf dist/$(DIST_NAME)
	cd dist && sha256sum $(DIST_NAME).tar.gz >SHA256SUMS
	@cat dist/SHA256SUMS

endif
