"""Benchmarks and the synthetic data they (and the tests) share."""
