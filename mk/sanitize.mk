# mk/sanitize.mk - the ASan+UBSan build on its own (the Makefile's
# `make sanitize` builds the same and runs every test with it); used by
# tests/e2e/sanitized.sh inside `make test`.
SAN_BUILD := build/sanitize
SAN_OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined

.PHONY: sanitize-build
sanitize-build:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) OPT='$(SAN_OPT)' \
	    LDFLAGS='$(SAN_LDFLAGS)' $(SAN_BUILD)/pycstrip

test: sanitize-build
