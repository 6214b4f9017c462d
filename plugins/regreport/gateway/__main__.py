"""Run the gateway simulator as a process: `python -m regreport.gateway --root DIR --port N`.

A supervisor (`regreport services`) starts it in its own session, then reads
`<run-dir>/gateway.pid` and `gateway.port` (and `gateway.json`, which adds the host-key pin
line); SIGTERM or SIGINT stops it and removes those files.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from regreport.gateway.checks import Gateway
from regreport.gateway.config import GatewayConfig
from regreport.gateway.server import run_forever


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, load `<root>/gateway.toml` (or `--config`) and serve."""
    parser = argparse.ArgumentParser(prog="python -m regreport.gateway", description=__doc__)
    parser.add_argument("--root", type=Path, required=True, help="gateway root folder")
    parser.add_argument("--config", type=Path, help="TOML config (default <root>/gateway.toml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0: any free port)")
    parser.add_argument("--run-dir", type=Path, help="pid/port files (default <root>/run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    root = args.root.expanduser().resolve()
    config = GatewayConfig.load(root, args.config)
    run_forever(Gateway(config), args.host, args.port, args.run_dir or root / "run")


if __name__ == "__main__":
    main()
