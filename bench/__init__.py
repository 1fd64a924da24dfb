"""Benchmarks of brainstorm against PyTorch and raw numpy (scripts, not tests).

``python -m bench`` runs :mod:`bench.run`; ``bench/fc.py`` times one
FullyConnected layer against the matrix products it needs. See bench/README.md.
"""
