"""Driftwarden benchmarks (``make bench`` → ``python -m bench``). Dev-only: never packaged.

``bench/__main__.py`` runs every suite against an embedded moto server on 127.0.0.1 and rewrites
its sections of docs/BENCHMARKS.md; see that file for what each figure means.
"""
