"""pycstrip's CI example package."""


def answer():
    return 42
