# pycstrip - non-recursive build.  `make` builds build/pycstrip; see README.
.SUFFIXES:
.DEFAULT_GOAL := all

BUILD   ?= build
CC      ?= cc
PKGS    := libarchive jansson zlib liblzma libzstd libdeflate
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wcast-qual -Wwrite-strings -Wvla -Wundef
ifeq ($(CI),true)
WARN    += -Werror
endif
OPT     ?= -O2 -g
CFLAGS  ?=
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 -iquote src
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -larchive -ljansson)
ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lbz2 -lpthread

LIB_SRC  := $(sort $(wildcard src/*.c))
CMD_SRC  := $(sort $(wildcard cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps demo test unit e2e sanitize static dist bench fuzz clean

all: $(BUILD)/pycstrip

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# Criterion's assertion macros trip -Wwrite-strings and friends.
$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-write-strings -Wno-cast-qual \
	    -Wno-missing-prototypes -Wno-pedantic -c -o $@ $<

$(BUILD)/libpycstrip.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pycstrip: $(CMD_OBJ) $(BUILD)/libpycstrip.a
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libpycstrip.a $(LDLIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libpycstrip.a
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(BUILD)/libpycstrip.a $(LDLIBS) -lcriterion

deps:
	@sh scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/demo.sh $(BUILD)

# Every unit and end-to-end test; the last line is "N passed, N failed".
# A build/pycstrip that `make static` left statically linked is relinked
# dynamically first (the suite runs on both; valgrind wants the dynamic).
test: deps
	@readelf -lW $(BUILD)/pycstrip 2>/dev/null | grep -q INTERP || \
	    rm -f $(BUILD)/pycstrip
	@$(MAKE) --no-print-directory all $(BUILD)/unit-tests
	@sh tests/run.sh $(BUILD)

unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build/sanitize \
	    OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer' \
	    LDFLAGS='-fsanitize=address,undefined' \
	    build/sanitize/pycstrip build/sanitize/unit-tests
	@ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    sh tests/run.sh build/sanitize

clean:
	rm -rf $(BUILD) dist

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
-include mk/*.mk
