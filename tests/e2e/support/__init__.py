"""Helpers for the end-to-end tests (a test controller, a TCP proxy)."""
