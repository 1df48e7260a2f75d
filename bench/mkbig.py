#!/usr/bin/python3
"""bench/mkbig.py zip64 FILE | tar FILE - the big archives of `make
bench-scale` (issue 7), written as streams (flat memory):

zip64: a wheel "big-1.0-py3-none-any.whl" with one stored member of
  BIG_BYTES (default 4.5 GB, over 4 GiB: zip64 sizes) and SMALL (default
  200,000) small members: a quarter .py, three quarters .pyc under
  __pycache__, and a RECORD listing them all with their hashes.
tar: a pax tar with one member of BIG_BYTES (default 8.7 GB, over 8 GiB: a
  pax size record) and SMALL small members of the same kinds.

Prints sourceable KEY=VALUE lines: BIG_BYTES, ENTRIES, BYTECODE, KEPT.
"""
import base64
import hashlib
import io
import os
import sys
import tarfile
import zipfile

CHUNK = 1 << 20
ZEROS = bytes(CHUNK)


def small_members(n):
    """(name, data) of the small members: 1 .py to 3 .pyc."""
    for i in range(n):
        pkg = "big/p%03d" % (i // 1000)
        m = i // 4
        if i % 4 == 0:
            yield "%s/m%d.py" % (pkg, m), b"x = %d\n" % m
        else:
            yield ("%s/__pycache__/m%d.cpython-311%s.pyc" % (pkg, m, ("", ".opt-1", ".opt-2")[i % 4 - 1]),
                   b"\xa7\r\r\n" + bytes(12) + b"pyc %d" % i)


def record_hash(h):
    return "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()


def make_zip64(path, big, small):
    rows = []
    entries = bytecode = 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        info = zipfile.ZipInfo("big/data.bin", (2023, 11, 14, 22, 13, 20))
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        h = hashlib.sha256()
        with zf.open(info, "w", force_zip64=True) as f:
            left = big
            while left:
                n = min(left, CHUNK)
                f.write(ZEROS[:n])
                h.update(ZEROS[:n])
                left -= n
        rows.append("big/data.bin,%s,%d" % (record_hash(h), big))
        entries += 1
        for name, data in small_members(small):
            zi = zipfile.ZipInfo(name, (2023, 11, 14, 22, 13, 20))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
            rows.append("%s,%s,%d" % (name, record_hash(hashlib.sha256(data)), len(data)))
            entries += 1
            bytecode += name.endswith(".pyc")
        for meta, text in (("METADATA", "Metadata-Version: 2.1\nName: big\nVersion: 1.0\n"),
                           ("WHEEL", "Wheel-Version: 1.0\nGenerator: bench/mkbig.py\n"
                                     "Root-Is-Purelib: true\nTag: py3-none-any\n")):
            data = text.encode()
            name = "big-1.0.dist-info/" + meta
            zf.writestr(name, data)
            rows.append("%s,%s,%d" % (name, record_hash(hashlib.sha256(data)), len(data)))
            entries += 1
        rows.append("big-1.0.dist-info/RECORD,,")
        zf.writestr("big-1.0.dist-info/RECORD", "\n".join(rows) + "\n")
        entries += 1
    return entries, bytecode


class Zeros(io.RawIOBase):
    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = ZEROS[:n] if n <= CHUNK else bytes(n)
        self.left -= n
        return n


def make_tar(path, big, small):
    entries = bytecode = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("big-1.0/big/data.bin")
        ti.size, ti.mtime, ti.mode = big, 1700000000, 0o644
        tf.addfile(ti, io.BufferedReader(Zeros(big), CHUNK))
        entries += 1
        for name, data in small_members(small):
            ti = tarfile.TarInfo("big-1.0/" + name)
            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
            tf.addfile(ti, io.BytesIO(data))
            entries += 1
            bytecode += name.endswith(".pyc")
    return entries, bytecode


def main():
    kind, path = sys.argv[1], sys.argv[2]
    small = int(os.environ.get("SMALL", "200000"))
    if kind == "zip64":
        big = int(os.environ.get("BIG_BYTES", "4500000000"))
        entries, bytecode = make_zip64(path, big, small)
    else:
        big = int(os.environ.get("BIG_BYTES", "8700000000"))
        entries, bytecode = make_tar(path, big, small)
    print("BIG_BYTES=%d" % big)
    print("ENTRIES=%d" % entries)
    print("BYTECODE=%d" % bytecode)
    print("KEPT=%d" % (entries - bytecode))


if __name__ == "__main__":
    main()
