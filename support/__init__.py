"""Helpers shared by the tests and the benchmarks: generated media, synthetic scenes and
re-posting transforms, the CLI in a subprocess, and tampering with a custody log.

A development-only package (not installed with the project): pytest finds it through
``pythonpath = ["."]`` in pyproject.toml, the benchmarks when run from the project root.
"""
