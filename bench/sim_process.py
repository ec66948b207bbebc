"""Helpers of the head-end benchmarks that must stay light: the simulated fleet in its own process.

Nothing here imports the head-end or the simulator, so a benchmark process measuring the head-end's
memory carries neither the fleet's models nor the registry set-up (both run in child processes).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Child process: migrate the registry and register a simulated fleet (meter types from the fleet's
# seed, TEST credentials sealed with the given key); prints the meter ids as JSON.
REGISTER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from openprepaid.keyvault import KeyVault
from openprepaid.simulator.fleet import Fleet, FleetConfig
from openprepaid.store import migrate
from openprepaid.store.engine import make_engine, make_session_factory
from tests.hes.simulated_meters import SimulatedMeter, register_fleet
url, key, code = sys.argv[2], bytes.fromhex(sys.argv[3]), sys.argv[7]
count, port, seed = map(int, sys.argv[4:7])
migrate.upgrade(url)
engine = make_engine(url)
fleet = Fleet(FleetConfig(size=count, seed=seed, history_days=0, billing_history=False), 0)
meters = [SimulatedMeter(code + m.serial[3:], m.meter_type.code) for m in fleet]
ids = register_fleet(make_session_factory(engine), KeyVault(key), meters, first_port=port, utility_code=code)
print(json.dumps(ids))
"""


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_cpu_s(pid: int | None = None) -> float:
    """User + system CPU seconds of a process so far (this one by default), from /proc."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_file_limit(needed: int) -> int:
    """Raise the soft open-files limit towards ``needed`` (within the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        ceiling = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def register_in_child(url: str, key: bytes, count: int, port: int, seed: int, code: str = "OPS") -> list[int]:
    """Create the registry at ``url`` with the fleet's meters (serials renamed to ``code``...)."""
    argv = [str(ROOT), url, key.hex(), str(count), str(port), str(seed), code]
    out = subprocess.run([sys.executable, "-c", REGISTER, *argv], check=True, capture_output=True, text=True).stdout
    return [int(meter_id) for meter_id in json.loads(out)]


def start_fleet(meters: int, port: int, seed: int, data_dir: Path, extra: list[str]) -> subprocess.Popen[str]:
    """``openprepaid simulate`` in its own process; returns once it printed its ready line."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "openprepaid", "--data-dir", str(data_dir), "simulate"]
    command += ["--meters", str(meters), "--port", str(port), "--history-days", "1", "--seed", str(seed), *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("ready:"):
        _, err = process.communicate(timeout=30)
        raise SystemExit(f"the simulator did not start: {line!r}\n{err[-3000:]}")
    print(f"# {line}", file=sys.stderr)
    return process


def stop_fleets(fleets: list[subprocess.Popen[str]]) -> None:
    for fleet in fleets:
        fleet.terminate()
    for fleet in fleets:
        fleet.communicate(timeout=120)
