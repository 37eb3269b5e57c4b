"""The few names that differ between Python 2.7 and 3, and the names type comments use.

The modules carry types as `# type:` comments (checked by mypy), since Python 2.7
has no annotations; it has no `typing` module either, so those names are
imported only where it exists.
"""

# `unicode` on Python 2, `str` on 3 (a `u""` literal would be rewritten by formatters).
TEXT = type(b"".decode("ascii"))
# What a JSON string or a command-line word can be.
STRINGS = (str, TEXT)
