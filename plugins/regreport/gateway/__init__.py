"""A regulator (NCA) SFTP gateway simulator: receives MiFIR files, answers with auth.031.

It lets the submission side be tested end to end without a real authority: firms log in over
SFTP, upload to `inbox/`, and find status advice in `outbox/` (file status ACPT, PART, RJCT,
CRPT or INCF, per-record CON-023 / CON-411 / CON-412, plus scripted outcomes and delays).

Modules: `config` (accounts, reference data, outcomes), `checks` (the `Gateway` engine: file
checks, content rules, state, feedback queue), `status_advice` (auth.031 writer and schema
loader), `server` (asyncssh SFTP server, in a thread or as a process: `python -m
regreport.gateway`).
"""

from __future__ import annotations

from regreport.gateway.checks import Gateway, advice_file_name
from regreport.gateway.config import (
    FirmUser,
    GatewayConfig,
    GatewayConfigError,
    ScriptedOutcome,
    hash_password,
)
from regreport.gateway.server import GatewayServer, known_hosts_line, public_host_key

__all__ = [
    "FirmUser",
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayServer",
    "ScriptedOutcome",
    "advice_file_name",
    "hash_password",
    "known_hosts_line",
    "public_host_key",
]
