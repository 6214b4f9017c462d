"""QSuite RegReport: regulatory reporting for trading firms.

The package holds the core logic (extract, render, validate, archive, register) without
importing Airflow; `dags/` wires it into Airflow with thin tasks.
"""

from __future__ import annotations

__version__ = "0.1.0"
