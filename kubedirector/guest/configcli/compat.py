"""The few names that differ between Python 2.7 and 3."""

# `unicode` on Python 2, `str` on 3 (a `u""` literal would be rewritten by formatters).
TEXT = type(b"".decode("ascii"))
# What a JSON string or a command-line word can be.
STRINGS = (str, TEXT)
