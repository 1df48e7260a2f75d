#!/usr/bin/python3
"""bench/mktree.py wide DIR | deep DIR DEPTH - synthetic trees for the scale
cases of `make bench-scale` (issue 7).  Files are empty: what is measured is
the walk, not the bytes.  Everything is created relative to directory handles
(the deep chain is far longer than PATH_MAX).  Prints "KEY=VALUE" lines of
what it made (sourceable).

wide: 10 x 10 x 10 x 10 top directories, each holding a chain of 10 package
  directories; every package directory holds 4 .py files and a __pycache__
  with 4 .pyc: 100,000 __pycache__, 400,000 .pyc, 1,011,110 entries in all,
  14 levels deep.
deep: a chain of DEPTH directories d/d/d/...; every level holds m.py, every
  100th level a __pycache__ with one .pyc, and the bottom one a __pycache__
  and a loose legacy m.pyc beside m.py.
"""
import os
import sys

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def touch(name, dfd):
    os.close(os.open(name, FLAGS, 0o644, dir_fd=dfd))


def mkdir_open(name, dfd):
    os.mkdir(name, 0o755, dir_fd=dfd)
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dfd)


def package(dfd, counts):
    for m in range(4):
        touch("m%d.py" % m, dfd)
    pc = mkdir_open("__pycache__", dfd)
    for m in range(4):
        touch("m%d.cpython-311.pyc" % m, pc)
    os.close(pc)
    counts["entries"] += 9
    counts["pycache"] += 1
    counts["pyc"] += 4
    counts["py"] += 4


def wide(root):
    counts = {"entries": 0, "pycache": 0, "pyc": 0, "py": 0, "dirs": 0}
    rfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for a in range(10):
        fa = mkdir_open("a%d" % a, rfd)
        for b in range(10):
            fb = mkdir_open("b%d" % b, fa)
            for c in range(10):
                fc = mkdir_open("c%d" % c, fb)
                for d in range(10):
                    fd = mkdir_open("d%d" % d, fc)
                    cur = fd
                    for level in range(10):
                        nxt = mkdir_open("p%d" % level, cur)
                        package(nxt, counts)
                        counts["entries"] += 1
                        counts["dirs"] += 1
                        if cur != fd:
                            os.close(cur)
                        cur = nxt
                    os.close(cur)
                    os.close(fd)
                os.close(fc)
            os.close(fb)
        os.close(fa)
    os.close(rfd)
    counts["entries"] += 11110
    counts["dirs"] += 11110
    return counts


def deep(root, depth):
    counts = {"entries": 0, "pycache": 0, "pyc": 0, "py": 0, "dirs": 0}
    cur = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for level in range(depth):
        nxt = mkdir_open("d", cur)
        os.close(cur)
        cur = nxt
        counts["dirs"] += 1
        touch("m.py", cur)
        counts["py"] += 1
        counts["entries"] += 2
        if level % 100 == 99 or level == depth - 1:
            pc = mkdir_open("__pycache__", cur)
            touch("m.cpython-311.pyc", pc)
            os.close(pc)
            counts["pycache"] += 1
            counts["pyc"] += 1
            counts["entries"] += 2
    touch("m.pyc", cur)
    counts["pyc"] += 1
    counts["entries"] += 1
    os.close(cur)
    return counts


def main():
    kind, root = sys.argv[1], sys.argv[2]
    os.makedirs(root, exist_ok=True)
    counts = wide(root) if kind == "wide" else deep(root, int(sys.argv[3]))
    for k, v in counts.items():
        print("GEN_%s=%d" % (k.upper(), v))


if __name__ == "__main__":
    main()
