"""Run the Runway simulator in the foreground: `manage.py runway_simulator --port 8001 [--fast] [--tier N]`.

The organisation starts as a new Runway account does: Tier 1 (one video at a time, 50 videos a
day; generation.simulator.runway_tables.TIERS) with a month's worth of credits at that tier
(10,000 = $100). `--tier 2`..`5` gives a higher tier, `--tier none` the simulator's generous
untiered limits (2 at a time and 200 a day per kind of model), `--credits N` another balance.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from generation import startup
from generation.simulator import SimulatorConfig, SimulatorServer
from generation.simulator.config import monthly_spend_for_tier
from generation.simulator.runway_tables import TIERS


def _tier(text: str) -> int | None:
    if text.lower() in ("none", "untiered"):
        return None
    if not text.isdigit() or int(text) not in TIERS:
        raise ValueError(text)
    return int(text)


class Command(BaseCommand):
    help = "Serve a local, wire-compatible Runway API that renders real MP4s, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.RUNWAY_SIMULATOR_PORT)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--fast",
            action="store_true",
            default=settings.RUNWAY_SIMULATOR_FAST,
            help="Finish every task within a few seconds (also RUNWAY_SIMULATOR_FAST).",
        )
        parser.add_argument("--render-scale", type=float, default=1.0, help="Clip size x this (default 1).")
        parser.add_argument(
            "--tier",
            type=_tier,
            default=1,
            help="Runway usage tier 1-5, or 'none' for generous untiered limits (default 1).",
        )
        parser.add_argument(
            "--credits",
            type=int,
            default=None,
            help="Starting credit balance (default: the tier's monthly spend cap; Tier 1: 10,000).",
        )
        parser.add_argument(
            "--control-token",
            default=settings.RUNWAY_SIMULATOR_CONTROL_TOKEN,
            help="Bearer token the /_simulator/* control endpoints require (also "
            "RUNWAY_SIMULATOR_CONTROL_TOKEN; default: a random one, printed at start).",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Where clips are kept (default: a temporary folder).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        startup.check_runway_configured()
        values: dict[str, Any] = {
            "host": options["host"],
            "port": options["port"],
            "render_scale": options["render_scale"],
            "output_dir": options["output_dir"],
            "control_token": options["control_token"] or None,
            "tier": options["tier"],
        }
        if options["credits"] is not None:
            values["credit_balance"] = options["credits"]
        else:
            values["credit_balance"] = monthly_spend_for_tier(options["tier"])
        config = SimulatorConfig.fast(**values) if options["fast"] else SimulatorConfig(**values)
        server = SimulatorServer(config)
        base_url = server.start()
        mode = "fast" if options["fast"] else "realistic"
        tier = "untiered" if config.tier is None else f"Tier {config.tier}"
        self.stdout.write(
            f"Runway simulator ({mode} timings, {tier}, {config.credit_balance} credits) listening on {base_url}",
            ending="\n",
        )
        if not options["control_token"]:
            # Like a notebook server's token: whoever started it can drive the control endpoints.
            self.stdout.write(f"Control token (for /_simulator/*): {config.control_token}")
        self.stdout.flush()

        stopped = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            server.stop()
            self.stdout.write("Runway simulator stopped.")
