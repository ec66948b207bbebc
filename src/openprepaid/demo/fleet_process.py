"""The demo's simulated fleet in a child process, so that the meters and the head-end use both cores.

The parent builds the same fleet (same seed, same start) to know the meters, then drives the
child's clock over stdin/stdout, one line per message:

    parent -> child   ``time <iso>``               simulated time moves to <iso>; the meters live up to it
    parent -> child   ``relay <index> <1|2> <iso>`` replay a relay operation (a resumed run)
    child -> parent   ``ready`` once every meter listens, then ``ok`` after each message

Run as ``python -m openprepaid.demo.fleet_process --meters N --seed S --start ISO --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from openprepaid.demo.clock import DemoTime
from openprepaid.demo.fleet_host import relay_action, start_fleet
from openprepaid.demo.scenarios import write_story
from openprepaid.simulator.clock import to_epoch_s


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve(meters: int, seed: int, start: datetime, port: int, now: datetime) -> None:
    demo_time = DemoTime(start)
    demo_time.advance_to(now)
    fleet = await start_fleet(meters=meters, seed=seed, start=start, first_port=port, demo_time=demo_time)
    write_story(fleet.fleet, list(range(1, meters + 1)), start)  # the same faults as the parent's story
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _say("ready")
    try:
        while line := (await reader.readline()).decode().strip():
            words = line.split()
            if words[0] == "time":
                demo_time.advance_to(datetime.fromisoformat(words[1]))
                fleet.fleet.advance(to_epoch_s(demo_time.now()))
            elif words[0] == "relay":
                meter = fleet.fleet.meter(int(words[1]))
                meter.schedule(to_epoch_s(datetime.fromisoformat(words[3])), relay_action(int(words[2])))
            else:
                _say(f"error unknown message {words[0]!r}")
                continue
            _say("ok")
    finally:
        await fleet.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--now", type=datetime.fromisoformat, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.meters, args.seed, args.start, args.port, args.now))


if __name__ == "__main__":
    main()
