"""A seeded fleet: categories and types by seed, history on creation, shared bounded outbox, reachability."""

from __future__ import annotations

from collections import Counter

import pytest

from openprepaid.meters import event_codes as ec
from openprepaid.meters.event_codes import EventLog
from openprepaid.simulator import faults
from openprepaid.simulator.errors import ConfigurationError
from openprepaid.simulator.faults import NetworkFaults
from openprepaid.simulator.fleet import Fleet, FleetConfig
from openprepaid.simulator.history import synthesize_billing_history
from openprepaid.simulator.load_model import Category
from openprepaid.simulator.push import Outbox, PushKind

from .conftest import DAY, HOUR, ist

START = ist(2025, 3, 12, 11, 30)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet(FleetConfig(size=200, seed=5, history_days=3, outages_per_day=0.5, push_destination="hes:4059"), START)


def test_categories_types_and_serials_follow_the_seed(fleet: Fleet) -> None:
    again = Fleet(FleetConfig(size=200, seed=5, history_days=0), START)
    assert [m.params for m in fleet] == [m.params for m in again]
    assert [m.meter_type.code for m in fleet] == [m.meter_type.code for m in again]
    other = Fleet(FleetConfig(size=200, seed=6, history_days=0), START)
    assert [m.params.category for m in fleet] != [m.params.category for m in other]
    categories = Counter(m.params.category for m in fleet)
    assert categories[Category.DOMESTIC] > categories[Category.COMMERCIAL] > categories[Category.INDUSTRIAL] > 0
    assert len({m.serial for m in fleet}) == 200
    assert fleet.by_serial(fleet.meter(17).serial) is fleet.meter(17)
    with pytest.raises(ConfigurationError):
        fleet.by_serial("nope")
    # relays and limits where they belong
    for meter in fleet:
        assert (meter.limiter is not None) == meter.meter_type.has_relay
        if meter.limiter is not None:
            assert meter.limiter.threshold_normal_w >= 1000 and meter.limiter.threshold_normal_w % 1000 == 0


def test_history_is_there_on_creation(fleet: Fleet) -> None:
    meter = fleet.meter(0)
    assert meter.true_s == START
    daily = meter.get(7, "1.0.99.2.0.255", 2)
    assert isinstance(daily, list) and len(daily) == 4  # born at midnight 3 days back, plus 3 midnights
    assert meter.get(7, "1.0.99.1.0.255", 7) == 3 * 96 + 46


def test_outages_happen_and_pushes_land_in_one_outbox(fleet: Fleet) -> None:
    power_events = sum(len(m.event_codes(EventLog.POWER)) for m in fleet)
    assert power_events > 200 * 3 * 0.5  # about one failure and one restoration per outage
    assert len(fleet.outbox) == 0  # pushes from the generated history are not delivered
    fleet.advance(START + DAY // 2)
    pushes = fleet.drain_pushes()
    kinds = Counter(p.kind for p in pushes)
    assert kinds[PushKind.LAST_GASP] > 0 and kinds[PushKind.FIRST_BREATH] > 0
    assert all(START < p.true_at_s <= START + DAY // 2 for p in pushes)
    assert all(p.destination == "hes:4059" for p in pushes)
    assert len(fleet.outbox) == 0


def test_advance_moves_every_meter(fleet: Fleet) -> None:
    fleet.advance(START + DAY)
    assert all(m.true_s == START + DAY for m in fleet)
    assert all(m.get(7, "1.0.99.2.0.255", 7) == 5 for m in fleet if m.powered)


def test_reachability_combines_supply_and_offline_windows(fleet: Fleet) -> None:
    now = START + 2 * DAY
    fleet.advance(now)
    index = next(i for i, m in enumerate(fleet) if m.powered)
    assert fleet.is_reachable(index, now)
    fleet.faults.add_offline(index, now + HOUR, HOUR)
    assert not fleet.is_reachable(index, now + HOUR + 60)
    assert fleet.is_reachable(index, now + 2 * HOUR) == fleet.meter(index).powered
    faults.outage(fleet.meter(index), now + 3 * HOUR, HOUR)
    assert not fleet.is_reachable(index, now + 3 * HOUR + 1)


def test_network_faults_default_to_the_fleet_setting() -> None:
    config = FleetConfig(size=2, history_days=0, network=NetworkFaults(drop_rate=0.05))
    small = Fleet(config, START)
    assert small.faults.network(1).drop_rate == 0.05


def test_limiter_trips_are_rare_across_a_fleet(fleet: Fleet) -> None:
    trips = sum(m.event_codes(EventLog.CONTROL).count(ec.RELAY_DISCONNECTED) for m in fleet)
    assert trips < 200 * 4 * 0.2


@pytest.mark.parametrize(
    "kwargs",
    [{"size": -1}, {"history_days": -2}, {"category_mix": ((Category.DOMESTIC, 0.5),)}, {"control_mode": 9}],
)
def test_bad_fleet_configs_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FleetConfig(**{"size": 1, **kwargs})  # type: ignore[arg-type]


def test_outbox_is_bounded_and_counts_drops() -> None:
    outbox = Outbox(capacity=2)
    fleet = Fleet(FleetConfig(size=1, history_days=0), START)
    meter = fleet.meter(0)
    meter.outbox = outbox
    for _ in range(5):
        meter.push(PushKind.ON_DEMAND, None)
    assert len(outbox) == 2 and outbox.dropped == 3
    assert len(outbox.drain(1)) == 1 and len(outbox) == 1
    with pytest.raises(ValueError, match="positive"):
        Outbox(0)


def test_billing_history_is_synthesised_before_birth(fleet: Fleet) -> None:
    for meter in [m for m in fleet if m.powered][:20]:
        rows = meter.get(7, "1.0.98.1.0.255", 2)
        assert isinstance(rows, list) and 1 <= len(rows) <= meter.meter_type.billing_entries
        assert meter.get(1, "0.0.0.1.0.255", 2) == len(rows)  # billing count
        dates = [r[0] for r in rows]
        assert dates == sorted(dates) and all(d.day == 1 and d.hour == 0 for d in dates)  # type: ignore[union-attr]
        imports = [r[2] for r in rows]
        assert imports == sorted(imports) and imports[-1] <= meter.registers()[0]  # type: ignore[type-var,operator]
        for row in rows:
            md_at = row[5]
            assert md_at < row[0] and 18 <= md_at.hour <= 22  # type: ignore[operator,union-attr]
        assert meter.get(3, "0.0.94.91.14.255", 2) > 30 * 1440  # type: ignore[operator]  power-on minutes


def test_billing_history_refuses_a_meter_that_has_lived() -> None:
    small = Fleet(FleetConfig(size=1, history_days=1, billing_history=False), START)
    meter = small.meter(0)
    assert meter.get(7, "1.0.98.1.0.255", 7) == 0
    with pytest.raises(ValueError, match="not lived"):
        synthesize_billing_history(meter)
