# mk/bench.mk - `make bench`: times pycstrip against the tools people use
# today (find, py3clean, zip -d, wheel unpack+pack, cp, bsdtar, GNU tar
# --delete, compressor pipes) on a generated corpus; not part of `make test`.
#
#   make bench                 SCALE 28 corpus (built once, ~7 min, ~5 GB)
#   make bench SCALE=1         quick variant
#   make bench BENCH_SCENARIOS="wheel tar.gz"
#   make bench-scale           issue 7's scale cases: 1M-entry tree, 10,000-deep
#                              chain, -j 2 over 50 artifacts
#   make bench-scale BENCH_SCALE_SCENARIOS="scale-zip64 scale-bigtar"
#                              a >4 GiB zip64 wheel and a >8 GiB tar, written to
#                              BENCH_BIG_DIR (default /var/tmp/pycstrip-bench-big)
#
# Results: build/bench/results.{md,json} (bench-scale: scale.{md,json}).
SCALE ?= 28
BENCH_CORPUS_SCRIPT ?= ../shared/bench/make-corpus.sh
BENCH_CORPUS ?= /tmp/pycstrip-corpus-s$(SCALE)
BENCH_WORK ?= /dev/shm/pycstrip-bench
BENCH_OUT ?= $(BUILD)/bench
BENCH_SCENARIOS ?= tree wheel tar tar.gz tar.zst tar.xz
BENCH_SCALE_SCENARIOS ?= scale-tree scale-deep scale-jobs
BENCH_MIN_RUNS ?= 3
BENCH_MAX_RUNS ?= 10

# The static binary is what ships, and what is timed when it can be built
# (it also starts 4 ms sooner than the dynamically linked one); else
# build/pycstrip.
BENCH_BIN = $$(if [ -x $(abspath $(STATIC_BUILD))/pycstrip ]; then \
    echo $(abspath $(STATIC_BUILD))/pycstrip; else echo $(abspath $(BUILD))/pycstrip; fi)
BENCH_ENV = PYCSTRIP=$(BENCH_BIN) BENCH_CORPUS=$(BENCH_CORPUS) \
    BENCH_WORK=$(BENCH_WORK) BENCH_OUT=$(abspath $(BENCH_OUT)) \
    BENCH_MIN_RUNS=$(BENCH_MIN_RUNS) BENCH_MAX_RUNS=$(BENCH_MAX_RUNS)

.PHONY: bench bench-deps bench-corpus bench-scale

bench-deps:
	@sh bench/deps.sh

bench-corpus: bench-deps
	@BENCH_CORPUS_SCRIPT=$(BENCH_CORPUS_SCRIPT) sh bench/corpus.sh $(BENCH_CORPUS) $(SCALE)

bench: deps bench-corpus
	@$(MAKE) --no-print-directory all static-if-possible
	@$(BENCH_ENV) bash bench/run.sh $(BENCH_SCENARIOS)

bench-scale: deps bench-corpus
	@$(MAKE) --no-print-directory all static-if-possible
	@$(BENCH_ENV) bash bench/scale.sh $(BENCH_SCALE_SCENARIOS)
