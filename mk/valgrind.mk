# mk/valgrind.mk - `make valgrind`: end-to-end scripts with PYCSTRIP set to
# tests/valgrind-pycstrip (memcheck; errors and definite leaks exit 99).
#
#   make valgrind                          the default subset
#   make valgrind VALGRIND_TESTS="tar.py"  scripts from tests/e2e/
#
# Scripts that need LD_PRELOAD or signals on the binary itself (inject.sh,
# crash.sh) skip themselves: the wrapper is not a dynamic executable.
VALGRIND_TESTS ?= tree.sh zip.py tar.py faults.sh
VALGRIND_OUT := build/valgrind

.PHONY: valgrind
valgrind: deps
	@$(MAKE) --no-print-directory all
	@command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 1; }
	@mkdir -p $(VALGRIND_OUT)
	@pass=0; failn=0; for t in $(VALGRIND_TESTS); do \
	    out=$(VALGRIND_OUT)/$$t.out; \
	    echo "# valgrind/$$t"; \
	    VALGRIND_PYCSTRIP=$(abspath $(BUILD)/pycstrip) \
	    PYCSTRIP=$(abspath tests/valgrind-pycstrip) \
	    PYCSTRIP_ROOT=$(CURDIR) PYCSTRIP_SCRATCH=$(abspath $(VALGRIND_OUT))/$$t \
	        tests/e2e/$$t >$$out 2>&1 </dev/null; rc=$$?; \
	    grep -E '^(not )?ok|^# ' $$out; \
	    p=$$(grep -c '^ok' $$out); f=$$(grep -c '^not ok' $$out); \
	    if [ $$rc -ne 0 ] && [ $$f -eq 0 ]; then f=1; echo "not ok - $$t exited $$rc"; fi; \
	    pass=$$((pass + p)); failn=$$((failn + f)); \
	done; echo "valgrind: $$pass passed, $$failn failed"; [ $$failn -eq 0 ]
