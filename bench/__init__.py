"""Benchmarks. The synthetic data and helpers they share with the tests are in ``support/``."""
