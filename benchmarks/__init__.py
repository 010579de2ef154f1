"""Reproducible speed and alert-quality benchmarks; each prints JSON."""
