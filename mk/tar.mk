# mk/tar.mk - build settings of the tar family (src/tar.c, src/codec.c).
#
# The Makefile gives src as a quote-only include directory (-iquote): an -I
# src would let src/archive.h shadow libarchive's <archive.h>.  codec.c calls
# zlib, bzip2, liblzma, libzstd and libdeflate (CRC-32) itself: those are in
# the Makefile's PKGS and LDLIBS.
