#!/usr/bin/env bash
# One-shot set-up for the compose stack (the `airflow-init` service, run as root):
#   1. migrate the Airflow metadata database; create the warehouse tables and stage logins;
#   2. make logs/ and the config volume writable by AIRFLOW_UID;
#   3. write the simple auth manager's password file from AIRFLOW_SIMPLE_AUTH_MANAGER_PASSWORDS
#      ("user:password,user2:password2"), so logins use the passwords from .env. Users listed in
#      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS without a password here get a generated one,
#      printed once in the airflow-apiserver log.
set -euo pipefail

: "${AIRFLOW_UID:?AIRFLOW_UID must be set}"
: "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?the passwords file path must be set}"
: "${AIRFLOW_SIMPLE_AUTH_MANAGER_PASSWORDS:?AIRFLOW_SIMPLE_AUTH_MANAGER_PASSWORDS must be set}"

/entrypoint airflow db migrate

# The warehouse's platform tables, then the least-privilege roles and one login per pipeline
# stage (REGREPORT_DB_PASSWORD_*), as the warehouse admin (REGREPORT_WAREHOUSE_DSN).
regreport db setup

mkdir -p /opt/airflow/logs "$(dirname "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}")"

python - <<'PY'
import json
import os
import sys

path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
users = {
    entry.split(":")[0].strip()
    for entry in os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "").split(",")
    if entry.strip()
}
passwords = {}
for entry in os.environ["AIRFLOW_SIMPLE_AUTH_MANAGER_PASSWORDS"].split(","):
    name, sep, password = entry.strip().partition(":")
    if not sep or not name or not password:
        sys.exit("AIRFLOW_SIMPLE_AUTH_MANAGER_PASSWORDS must look like 'user:password,...'")
    if name not in users:
        sys.exit(f"user {name!r} has a password but is not in AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS")
    passwords[name] = password
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as fh:
    json.dump(passwords, fh)
    fh.write("\n")
print(f"airflow-init: wrote passwords for {sorted(passwords)} to {path}")
PY

# The simple auth manager opens the file for appending, so it must be writable by AIRFLOW_UID.
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs "$(dirname "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}")"
chmod 600 "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
echo "airflow-init: done"
