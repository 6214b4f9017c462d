"""Airflow adapters: thin operators and triggers over the Airflow-free `regreport` modules."""
