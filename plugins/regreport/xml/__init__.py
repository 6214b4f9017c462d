"""ESMA MiFIR XML: namespaces, XSD loading and validation, and the auth.016 writer.

The modules here are pure functions over files and mappings, with no Airflow import, so the
renderer and validator can be unit-tested and reused by the CLI as well as by DAG tasks.
lxml is imported only by the leaf modules (`schema`, `render`), never by this package itself,
so importing `regreport.xml.namespaces` stays cheap at DAG parse time.
"""

from __future__ import annotations
