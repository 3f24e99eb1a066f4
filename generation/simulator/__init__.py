"""A local, wire-compatible Runway API: validation, task lifecycle, rendering, faults on demand.

server = SimulatorServer(SimulatorConfig.fast(render_scale=0.25))
base_url = server.start()   # http://127.0.0.1:<free port>
...
server.stop()
"""

from .config import ModelLimits, SimulatorConfig
from .control import SimulatorControl
from .server import SimulatorServer

__all__ = ["ModelLimits", "SimulatorConfig", "SimulatorControl", "SimulatorServer"]
