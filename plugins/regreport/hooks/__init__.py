"""Adapters from Airflow Connections to the clients the core logic takes."""

from __future__ import annotations
