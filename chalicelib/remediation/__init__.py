"""Revert plans are data (tuples of ``ApiCall``); one executor runs them."""
