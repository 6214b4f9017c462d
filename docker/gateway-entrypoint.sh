#!/bin/bash
# Start the regulator gateway simulator (an NCA's SFTP gateway stand-in) in docker-compose.
# Writes gateway.toml from REGREPORT_GATEWAY_* (password stored as a scrypt hash), makes sure the
# reference-data file exists, then serves on 0.0.0.0:2222. The run folder (a volume shared
# read-only with Airflow) receives `known_hosts`, the host-key pin the regulator_sftp connection
# reads.
set -euo pipefail
python - <<'PY'
from regreport.config import Settings
from regreport.services import gateway

settings = Settings.from_env()
settings.gateway_root.mkdir(parents=True, exist_ok=True)
(settings.gateway_root / "instruments.txt").touch(exist_ok=True)
print(f"gateway: config {gateway.write_config(settings)}")
PY
exec python -m regreport.gateway --root "${REGREPORT_GATEWAY_ROOT}" --host 0.0.0.0 --port 2222 \
    --run-dir /opt/regreport/gateway-run
