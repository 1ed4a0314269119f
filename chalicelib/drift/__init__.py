"""Comparison: normalization helpers, the attribute diff, severity."""
