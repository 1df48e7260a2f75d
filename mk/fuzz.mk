# mk/fuzz.mk - libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang,
# AddressSanitizer and UndefinedBehaviorSanitizer into build/fuzz/.
#
#   make fuzz                    each target for FUZZ_SECONDS (default 20)
#   make fuzz FUZZ_SECONDS=3600  an hour each
#   make fuzz FUZZ_TARGETS=fuzz_zip
#   make fuzz-build              just the binaries
#   make fuzz-regress            replay tests/fuzz/regress/ and the seeds
#
# Seeds come from tests/fuzz/make-seeds.sh (real artifacts built at that
# moment); the growing corpus lives in build/fuzz/corpus/TARGET, crashes
# in build/fuzz/artifacts/.  A crash found is added to tests/fuzz/regress/
# TARGET/ with a line in tests/fuzz/regress/README.md.
FUZZ_SECONDS ?= 20
FUZZ_DIR := build/fuzz
FUZZ_CC ?= clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -g -O1 $(FUZZ_SAN) $(CPPFLAGS) $(PKG_CFLAGS)
FUZZ_ALL := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_OBJ := $(LIB_SRC:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-regress

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libpycstrip.a: $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_archive.h $(FUZZ_DIR)/libpycstrip.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_DIR)/libpycstrip.a $(LDLIBS)

fuzz-build: $(FUZZ_ALL:%=$(FUZZ_DIR)/%)

$(FUZZ_DIR)/seeds/.done: tests/fuzz/make-seeds.sh
	@sh tests/fuzz/make-seeds.sh $(FUZZ_DIR)/seeds
	@touch $@

fuzz-seeds: $(FUZZ_DIR)/seeds/.done

fuzz: deps fuzz-build fuzz-seeds
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts $(FUZZ_DIR)/seeds/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    dict=; [ -f tests/fuzz/$$t.dict ] && dict=-dict=tests/fuzz/$$t.dict; \
	    tmp=$$(mktemp -d $$( [ -w /dev/shm ] && echo /dev/shm || echo /tmp)/psfuzz.XXXXXX); \
	    PSFUZZ_TMPDIR=$$tmp $(FUZZ_ENV) $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 $$dict \
	        -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
	        $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t \
	        2>$(FUZZ_DIR)/$$t.log || { tail -n 60 $(FUZZ_DIR)/$$t.log; \
	        echo "fuzz: $$t's files are in $$tmp"; exit 1; }; \
	    rm -rf "$$tmp"; \
	    grep -E '^(#[0-9]+.*DONE|stat::)' $(FUZZ_DIR)/$$t.log | sed "s/^/  $$t: /"; \
	done

fuzz-regress: fuzz-build fuzz-seeds
	@set -e; for t in $(FUZZ_ALL); do \
	    files=$$(find tests/fuzz/regress/$$t $(FUZZ_DIR)/seeds/$$t -type f 2>/dev/null | grep -v README); \
	    [ -n "$$files" ] || continue; \
	    $(FUZZ_ENV) $(FUZZ_DIR)/$$t $$files >$(FUZZ_DIR)/$$t.replay.log 2>&1 || \
	        { tail -n 40 $(FUZZ_DIR)/$$t.replay.log; exit 1; }; \
	    echo "fuzz-regress: $$t: $$(echo "$$files" | wc -l) inputs"; \
	done

-include $(FUZZ_OBJ:.o=.d)

# make fuzz-coverage: line and branch coverage of src/ reached by each
# target's corpus and seeds (llvm-cov), in build/fuzz/cov/report.txt.
FUZZ_COV_DIR := $(FUZZ_DIR)/cov
FUZZ_COV_FLAGS = -std=c11 -g -O1 -fprofile-instr-generate -fcoverage-mapping \
    $(CPPFLAGS) $(PKG_CFLAGS)

.PHONY: fuzz-coverage
$(FUZZ_COV_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_COV_FLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_SRC) $(LDLIBS)

fuzz-coverage: $(FUZZ_ALL:%=$(FUZZ_COV_DIR)/%) fuzz-seeds
	@set -e; rm -f $(FUZZ_COV_DIR)/*.profraw; for t in $(FUZZ_ALL); do \
	    mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	    LLVM_PROFILE_FILE=$(FUZZ_COV_DIR)/$$t.profraw $(FUZZ_COV_DIR)/$$t \
	        -runs=0 $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/seeds/$$t >/dev/null 2>&1; \
	    llvm-profdata merge -sparse -o $(FUZZ_COV_DIR)/$$t.profdata \
	        $(FUZZ_COV_DIR)/$$t.profraw; \
	done; \
	for t in $(FUZZ_ALL); do \
	    case $$t in fuzz_match) src=src/match.c ;; fuzz_record) src=src/record.c ;; \
	        fuzz_zip) src=src/zip.c ;; fuzz_tar) src="src/tar.c src/codec.c" ;; esac; \
	    echo "== $$t"; \
	    llvm-cov report $(FUZZ_COV_DIR)/$$t -instr-profile=$(FUZZ_COV_DIR)/$$t.profdata $$src; \
	done | tee $(FUZZ_COV_DIR)/report.txt
