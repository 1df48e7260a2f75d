"""A tiny package for `make demo`: compiled, then stripped by pycstrip."""
from .greet import greet

__all__ = ["greet"]
