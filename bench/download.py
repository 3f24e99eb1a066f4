"""Figures for storing a Runway output (not a test): `.venv/bin/python bench/download.py [--quick]`.

Peak memory of a worker while RunwayClient.download_output streams an output of 30, 100 and 300 MB
(--quick: 10 and 50 MB) from a tiny http.server on loopback into a temporary file. Each download runs
in a fresh child process that first warms up (imports, one small download), then resets its peak
RSS (/proc/self/clear_refs) and reports VmHWM minus the RSS it had just before: the growth. Target:
growth independent of the size. For contrast, the same child also reads the whole body into memory
(`requests.get(url).content`), which grows with the size.

The files are random bytes (only their size matters here). Needs no database: the children get a
DATABASE_URL pointing into the temporary folder and never open it.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import setup_django, status_value, temp_folder  # noqa: E402

MB = 1024 * 1024
WARM_UP_BYTES = MB


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as fh:
        for start in range(0, size, MB):
            fh.write(os.urandom(min(MB, size - start)))


def child(base_url: str, name: str, method: str, out: Path) -> None:
    """Download `name` one way and print {"bytes", "seconds", "growth_kb"} as JSON."""
    setup_django()
    import requests

    from generation.runway import client_from_settings

    client = client_from_settings()
    with (out.parent / "warm-up.bin").open("wb") as fh:
        client.download_output(f"{base_url}/warm-up.bin", fh)
    requests.get(f"{base_url}/warm-up.bin", timeout=30).content  # noqa: B018 (warms the other path)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass
    baseline = status_value(os.getpid(), "VmRSS")
    started = time.perf_counter()
    if method == "stream":
        with out.open("wb") as fh:
            written = client.download_output(f"{base_url}/{name}", fh)
    else:
        body = requests.get(f"{base_url}/{name}", timeout=300).content
        out.write_bytes(body)
        written = len(body)
    seconds = time.perf_counter() - started
    peak = status_value(os.getpid(), "VmHWM")
    out.unlink()
    print(json.dumps({"bytes": written, "seconds": seconds, "growth_kb": peak - baseline}))


def measure(base_url: str, name: str, method: str, *, folder: Path, env: dict[str, str]) -> dict:
    args = [sys.executable, __file__, "--child", base_url, name, method, str(folder / f"out-{name}")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise SystemExit(f"The {method} download of {name} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 and 50 MB only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[30, 100, 300], help="in MB")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        base_url, name, method, out = args.child
        child(base_url, name, method, Path(out))
        return
    sizes = [10, 50] if args.quick else args.sizes

    with temp_folder("bench-download-") as tmp:
        folder = Path(tmp)
        served = folder / "served"
        served.mkdir()
        write_random(served / "warm-up.bin", WARM_UP_BYTES)
        for size in sizes:
            write_random(served / f"{size}mb.bin", size * MB)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "videogen.settings",
            "DATABASE_URL": f"sqlite:///{folder / 'unused.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
        }
        server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(served)))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            print("Peak RSS growth of a fresh process downloading one output to a file (loopback)\n")
            print(f"{'size':>7} {'download_output':>16} {'time':>7} {'rate':>9} {'whole body':>11}")
            print(f"{'MB':>7} {'growth MB':>16} {'s':>7} {'MB/s':>9} {'growth MB':>11}")
            growths = []
            for size in sizes:
                name = f"{size}mb.bin"
                stream = measure(base_url, name, "stream", folder=folder, env=env)
                whole = measure(base_url, name, "whole", folder=folder, env=env)
                if stream["bytes"] != size * MB:
                    raise SystemExit(f"download_output wrote {stream['bytes']} bytes of {size * MB}")
                growths.append(stream["growth_kb"] / 1024)
                print(
                    f"{size:>7} {growths[-1]:>16.1f} {stream['seconds']:>7.2f} "
                    f"{size / stream['seconds']:>9.0f} {whole['growth_kb'] / 1024:>11.1f}"
                )
            spread = max(growths) - min(growths)
            print(
                f"\ndownload_output growth spread over {sizes[0]}-{sizes[-1]} MB: {spread:.1f} MB "
                f"(target: independent of size, i.e. a few MB at most)"
            )
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)


if __name__ == "__main__":
    main()
