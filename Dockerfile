# The image every Airflow service in docker-compose.yml runs: Airflow 3.3.2 plus the project's
# pinned requirements (dbt, Cosmos, GX, providers) and the `regreport` package.
#
# dbt-core 1.11 co-installs with Airflow 3.3 in one environment (see the README's conventions),
# so there is no separate dbt venv; Cosmos runs dbt in-process.
#
#   docker compose build            (or: docker build -t qsuite-regreport .)
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# The official image refuses `pip install` as root; everything below runs as `airflow`.
USER airflow

# Requirements first, so code changes do not invalidate this (slow) layer.
# requirements.in pins apache-airflow==3.3.2 itself, so pip cannot move the base install.
COPY --chown=airflow:0 requirements/requirements.in requirements/lock.txt /opt/regreport/requirements/
RUN pip install --no-cache-dir \
        -r /opt/regreport/requirements/requirements.in \
        -c /opt/regreport/requirements/lock.txt

# The package itself: gives `import regreport` and the `regreport` console command without the
# bind mount. Its dependencies are already installed above, hence --no-deps.
# README.m[d] copies README.md when it exists (setuptools only warns if it is missing).
COPY --chown=airflow:0 pyproject.toml README.m[d] /opt/regreport/src/
COPY --chown=airflow:0 plugins/ /opt/regreport/src/plugins/
RUN pip install --no-cache-dir --no-deps /opt/regreport/src \
    && regreport --help >/dev/null \
    && python -c "import regreport.config"

# Paths inside the containers; docker-compose.yml bind-mounts the project folders here.
# PYTHONPATH puts the mounted plugins/ ahead of the installed copy, so code edits take effect
# without a rebuild; with nothing mounted the installed package is used.
ENV DBT_PROJECT_DIR=/opt/airflow/dbt_project \
    DBT_PROFILES_DIR=/opt/airflow/dbt_project \
    REGREPORT_DBT_PROJECT_DIR=/opt/airflow/dbt_project \
    REGREPORT_GX_ROOT_DIR=/opt/airflow/expectations \
    REGREPORT_SCHEMAS_DIR=/opt/regreport/schemas/esma \
    REGREPORT_REFDATA_DIR=/opt/regreport/refdata \
    PYTHONPATH=/opt/airflow/plugins
