# mk/inject.mk - the fault-injection shim (tests/inject/inject.c), an
# LD_PRELOAD library that makes the Nth call of one libc function fail;
# tests/e2e/inject.sh drives pycstrip with it.  inject-nomalloc.so leaves
# the allocator alone, for binaries built with AddressSanitizer.
INJECT_WARN := $(filter-out -Wmissing-prototypes -Wpedantic,$(WARN))
INJECT_CC = $(CC) -std=gnu11 -O1 -g -fPIC -shared $(INJECT_WARN)

$(BUILD)/inject.so: tests/inject/inject.c
	@mkdir -p $(@D)
	$(INJECT_CC) -o $@ $< -ldl

$(BUILD)/inject-nomalloc.so: tests/inject/inject.c
	@mkdir -p $(@D)
	$(INJECT_CC) -DPS_INJECT_NO_MALLOC -o $@ $< -ldl

test: $(BUILD)/inject.so $(BUILD)/inject-nomalloc.so
sanitize: build/inject.so build/inject-nomalloc.so
