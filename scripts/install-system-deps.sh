#!/usr/bin/env bash
# System packages the project needs on a fresh Debian machine: the PostgreSQL server binaries
# (the local services run them; no Docker) and docker-compose 1.x (the tests validate
# docker-compose.yml with it; no Docker engine is needed for that) and Chromium (the browser tests
# drive Debian's build with Playwright; Playwright's own browser download does not work offline).
# Idempotent and quiet.
set -euo pipefail

need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || need+=(postgresql)
command -v docker-compose > /dev/null || need+=(docker-compose)
command -v chromium > /dev/null || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] && ! command -v sudo > /dev/null; then
    echo "missing system packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" > /dev/null
# Debian's postgresql package starts a cluster on 5432; the project runs its own.
if [[ " ${need[*]} " == *" postgresql "* ]] && command -v pg_lsclusters > /dev/null; then
    $SUDO pg_ctlcluster --skip-systemctl-redirect 15 main stop 2> /dev/null || true
fi
