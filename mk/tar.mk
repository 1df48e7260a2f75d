# mk/tar.mk - build settings of the tar family (src/tar.c, src/codec.c).
#
# src/archive.h would shadow libarchive's <archive.h> if src were an -I
# directory: it is a quote-only one ("archive.h" still finds ours).
CPPFLAGS := $(patsubst -Isrc,-iquote src,$(CPPFLAGS))
# codec.c calls zlib, bzip2, liblzma, libzstd and libdeflate (CRC-32) itself.
PKGS += liblzma libzstd libdeflate
LDLIBS += -lbz2
