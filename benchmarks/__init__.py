"""Benchmarks of QSuite RegReport: `make bench` runs `benchmarks.run`."""

from __future__ import annotations
