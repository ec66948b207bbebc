"""Text rendering of ``openprepaid accounts`` output, from the dictionaries accounts_query.py builds
(the same ones ``--json`` prints). Times are shown in the utility's local time zone."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openprepaid.wallet.money import format_inr


def local(text: str | None, zone: str, *, seconds: bool = False) -> str:
    """An ISO time in the zone as ``YYYY-MM-DD HH:MM``; ``-`` for none."""
    if text is None:
        return "-"
    moment = datetime.fromisoformat(text).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pending(pending: dict[str, Any] | None, zone: str) -> str:
    if pending is None:
        return "-"
    text = f"{pending['action']} {pending['state']}"
    if pending["not_before_at"]:
        text += f" ≥{local(pending['not_before_at'], zone)[5:]}"
    return text


def _recharge(recharge: dict[str, Any] | None, zone: str) -> str:
    if recharge is None:
        return "-"
    return f"{recharge['amount']} {local(recharge['received_at'], zone)}"


def _phase(item: dict[str, Any]) -> str:
    if item["account_status"] != "active":
        return str(item["account_status"])
    if item["payment_mode"] != "prepaid":
        return str(item["payment_mode"])
    return str(item["emergency_credit"] or "-")


LIST_HEADER = (
    f"{'account':<12} {'consumer':<20} {'category':<11} {'prot':<4} {'balance':>13} {'credit':<16} "
    f"{'relay':<12} {'pending':<24} last recharge"
)


def list_lines(items: list[dict[str, Any]]) -> list[str]:
    lines = [LIST_HEADER]
    utilities = {item["utility"] for item in items}
    for item in items:
        zone = item["timezone"]
        account = item["account_no"] if len(utilities) < 2 else f"{item['utility']}/{item['account_no']}"
        lines.append(
            f"{_cut(account, 12):<12} {_cut(item['consumer_name'], 20):<20} {_cut(item['category'], 11):<11} "
            f"{'yes' if item['protected'] else 'no':<4} {item['balance']:>13} {_phase(item):<16} "
            f"{item['relay']['state']:<12} {_pending(item['pending_command'], zone):<24} "
            f"{_recharge(item['last_recharge'], zone)}"
        )
    return lines


def _kw(watts: int) -> str:
    return f"{watts / 1000:g} kW"


def _meter_lines(detail: dict[str, Any], zone: str) -> list[str]:
    if not detail["meters"]:
        return ["Meters      none installed"]
    lines = []
    for index, meter in enumerate(detail["meters"]):
        label = "Meters" if index == 0 else ""
        served = f"installed {local(meter['installed_at'], zone)}"
        if meter["removed_at"]:
            served += f", removed {local(meter['removed_at'], zone)}"
            if meter["removal_reason"]:
                served += f" ({meter['removal_reason']})"
        relay = "relay" if meter["has_relay"] else "no relay"
        lines.append(
            f"{label:<11} {meter['manufacturer_code']} {meter['serial']} ({meter['meter_type']}, {relay}), {served}, "
            f"last heard {local(meter['last_seen_at'], zone)}"
        )
    return lines


def _credit_text(state: dict[str, Any] | None, zone: str) -> str:
    if state is None:
        return "not evaluated by the rules yet"
    phase = state.get("phase")
    if phase == "normal":
        return "normal (not in use)"
    if phase == "error":
        return f"ERROR: {state.get('error')} (automatic action blocked)"
    started = (
        f"started {local(state.get('started_at'), zone)} at {format_inr(int(state.get('started_balance_paise') or 0))}"
    )
    if phase == "emergency_credit":
        until = []
        if state.get("expires_at"):
            until.append(f"until {local(state['expires_at'], zone)}")
        if state.get("floor_paise") is not None:
            until.append(f"down to {format_inr(int(state['floor_paise']))}")
        return f"in use, {started}" + (f", {' or '.join(until)}" if until else "")
    return f"exhausted {local(state.get('exhausted_at'), zone)} (by {state.get('exhausted_by')}), {started}"


def _relay_text(relay: dict[str, Any], zone: str) -> str:
    if relay["state"] == "unknown":
        return "unknown (never read back yet)"
    command = (
        f"last relay command #{relay['command_id']} by {relay['actor']}, confirmed {local(relay['confirmed_at'], zone)}"
        if relay["command_id"] is not None
        else "no relay command confirmed"
    )
    return f"{relay['state']} (read back {local(relay['read_at'], zone)}; {command})"


def _command_line(command: dict[str, Any], zone: str) -> str:
    when = local(command["completed_at"] or command["created_at"], zone)
    extra = f", not before {local(command['not_before_at'], zone)}" if command["not_before_at"] else ""
    error = f", error: {command['last_error']}" if command["last_error"] else ""
    return (
        f"  #{command['command_id']:<5} {when}  {command['action']:<10} {command['state']:<9} "
        f"by {command['actor']}{extra}{error}: {command['reason']}"
    )


def _ledger_text(detail: dict[str, Any]) -> str:
    ledgers = detail["ledgers"]
    if not ledgers:
        return "no ledger accounts opened"
    parts = []
    names = {"prepaid_wallet": "prepaid wallet", "arrears": "arrears owed", "security_deposit": "security deposit"}
    for code, name in names.items():
        if code in ledgers:
            entry = ledgers[code]
            mismatch = "" if entry["matches_postings"] else f" (POSTINGS SAY {format_inr(entry['derived_paise'])})"
            parts.append(f"{name} {entry['balance']}{mismatch}")
    return "; ".join(parts)


_DESCRIBED = {
    "interval_charge": "energy",
    "fixed_charge": "fixed charge",
    "true_up": "true-up to the register",
}


def describe(entry: dict[str, Any]) -> str:
    """A line a consumer can read: the memo, or what the kind and day say, else the idempotency key."""
    if entry["memo"]:
        return str(entry["memo"])
    kind, day = entry["kind"], entry["value_date"]
    if kind in _DESCRIBED and day:
        return f"{_DESCRIBED[kind]}, {day}"
    if kind in ("settlement", "final_bill") and day:
        return f"{kind.replace('_', ' ')} {day[:7]}"
    return str(entry["key"])


def _statement_lines(detail: dict[str, Any], zone: str) -> list[str]:
    statement = detail["statement"]
    lines = [f"Wallet statement (last {len(statement)} transactions in posting order; credit +, debit -)"]
    if not statement:
        return [*lines, "  none"]
    lines.append(f"  {'posted':<16}  {'kind':<17} {'description':<40} {'amount':>12} {'balance':>13}")
    for entry in statement:
        amount = entry["amount"] if entry["amount_paise"] < 0 else f"+{entry['amount']}"
        lines.append(
            f"  {local(entry['posted_at'], zone):<16}  {entry['kind']:<17} {_cut(describe(entry), 40):<40} "
            f"{amount:>12} {entry['balance_after']:>13}"
        )
    return lines


def _tariff_text(tariff: dict[str, Any] | None, zone: str) -> str:
    if tariff is None:
        return "none assigned (consumption is held, not billed)"
    text = f'{tariff["code"]} "{tariff["name"]}"'
    if tariff["version"] is None:
        text += ", no version in force yet"
    else:
        text += f", version {tariff['version']} in force since {local(tariff['effective_from_at'], zone)}"
    if tariff["next_version"] is not None:
        text += f"; version {tariff['next_version']} from {local(tariff['next_effective_from_at'], zone)}"
    return text


def detail_lines(detail: dict[str, Any]) -> list[str]:
    zone = detail["timezone"]
    utility, consumer = detail["utility"], detail["consumer"]
    status = detail["account_status"] + (f" since {local(detail['closed_at'], zone)}" if detail["closed_at"] else "")
    protection = "yes" + (f" ({detail['protection_reason']})" if detail["protection_reason"] else "")
    lines = [
        f"Account {detail['account_no']} of {utility['code']} ({utility['name']}): {detail['payment_mode']}, "
        f"{status}; times in {zone}",
        f"Consumer    {consumer['consumer_no']} {consumer['name']}"
        + (f", {consumer['address']}" if consumer["address"] else ""),
        f"Category    {detail['category']}, sanctioned load {_kw(detail['sanctioned_load_w'])}, "
        f"protected: {protection if detail['protected'] else 'no'}",
        f"Opened      {local(detail['opened_at'], zone)}, prepaid since {local(detail['prepaid_since_at'], zone)}"
        + (f"; supply {detail['supply_node']}" if detail["supply_node"] else ""),
        f"Tariff      {_tariff_text(detail['tariff'], zone)}",
        *_meter_lines(detail, zone),
        f"Balances    {_ledger_text(detail)}",
        f"Emergency   {_credit_text(detail['emergency_credit'], zone)}",
        f"Relay       {_relay_text(detail['relay'], zone)}",
        "Open relay commands" + ("" if detail["open_commands"] else ": none"),
        *(_command_line(command, zone) for command in detail["open_commands"]),
        "Recent relay commands" + ("" if detail["recent_relay_commands"] else ": none"),
        *(_command_line(command, zone) for command in detail["recent_relay_commands"]),
        "",
        *_statement_lines(detail, zone),
        "",
        f"Notices (last {len(detail['notices'])}, newest first)" + ("" if detail["notices"] else ": none"),
    ]
    for notice in detail["notices"]:
        threshold = "" if notice["threshold_paise"] is None else f" (threshold {format_inr(notice['threshold_paise'])})"
        lines.append(f"  {local(notice['created_at'], zone)}  {notice['key']}{threshold}, balance {notice['balance']}")
    lines.append("")
    lines.append(
        f"Recharges (last {len(detail['recharges'])}, newest first)" + ("" if detail["recharges"] else ": none")
    )
    for payment in detail["recharges"]:
        state = payment["state"]
        if payment["reversed_at"]:
            state += f" {local(payment['reversed_at'], zone)} ({payment['reversal_reason']})"
        arrears = (
            f", {format_inr(payment['arrears_recovered_paise'])} to arrears"
            if payment["arrears_recovered_paise"]
            else ""
        )
        lines.append(
            f"  {local(payment['received_at'], zone)}  {payment['payment_ref']:<20} {payment['amount']:>12} "
            f"via {payment['channel']}{arrears}, "
            f"balance after {format_inr(payment['wallet_balance_after_paise'])}: {state}"
        )
    return lines


def receipt_lines(receipt: dict[str, Any]) -> list[str]:
    zone = receipt["timezone"]
    if receipt["replayed"]:
        head = f"Already credited: payment {receipt['payment_ref']} was credited before; nothing changed."
    else:
        head = f"Recharge credited: payment {receipt['payment_ref']}."
    lines = [
        head,
        f"  account         {receipt['account_no']} ({receipt['utility']}) {receipt['consumer_name']}",
        f"  amount          {receipt['amount']} via {receipt['channel']}, by {receipt['actor']}",
        f"  to wallet       {format_inr(receipt['wallet_credit_paise'])}",
        f"  to arrears      {format_inr(receipt['arrears_recovered_paise'])}",
        f"  balance after   {format_inr(receipt['wallet_balance_after_paise'])}",
        f"  received        {local(receipt['received_at'], zone, seconds=True)} {zone}",
        f"  state           {receipt['state']}"
        + (f" (reversed {local(receipt['reversed_at'], zone)})" if receipt["reversed_at"] else ""),
    ]
    if receipt["relay"]["state"] == "disconnected":
        lines.append(
            "  relay           disconnected: the prepaid rules reconnect it on their next run if the balance allows "
            "(a relay an operator opened stays open)"
        )
    return lines


def adjustment_lines(adjustment: dict[str, Any]) -> list[str]:
    zone = adjustment["timezone"]
    if adjustment["replayed"]:
        head = f"Already adjusted: reference {adjustment['reference']} was posted before; nothing changed."
    else:
        head = f"Adjustment posted: reference {adjustment['reference']}."
    direction = "credited to the wallet" if adjustment["direction"] == "credit" else "debited from the wallet"
    return [
        head,
        f"  account         {adjustment['account_no']} ({adjustment['utility']}) {adjustment['consumer_name']}",
        f"  amount          {adjustment['amount']} {direction}",
        f"  reason          {adjustment['reason']}",
        f"  by              {adjustment['actor']}",
        f"  effective       {local(adjustment['effective_at'], zone, seconds=True)} {zone}",
        f"  posted          {local(adjustment['posted_at'], zone, seconds=True)} {zone}, "
        f"ledger transaction #{adjustment['ledger_transaction_id']}",
        f"  wallet balance  {adjustment['wallet_balance']} now",
    ]


def reversal_lines(reversal: dict[str, Any]) -> list[str]:
    zone = reversal["timezone"]
    head = (
        f"Already reversed: payment {reversal['payment_ref']} was reversed before; nothing changed."
        if reversal["replayed"]
        else f"Payment {reversal['payment_ref']} reversed."
    )
    return [
        head,
        f"  account         {reversal['account_no']} ({reversal['utility']})",
        f"  amount          {reversal['amount']} (received {local(reversal['received_at'], zone)})",
        f"  wallet debited  {format_inr(reversal['wallet_credit_paise'])}",
        f"  arrears owed    {format_inr(reversal['arrears_recovered_paise'])} again",
        f"  reversed        {local(reversal['reversed_at'], zone, seconds=True)} {zone}, by {reversal['reversed_by']}: "
        f"{reversal['reason']}",
        f"  wallet balance  {reversal['wallet_balance']} now",
    ]


_GAP_WHY = {
    "kill_switch": "the kill switch is engaged",
    "rules_state_error": "the rules' state is in ERROR",
    "not_attempted": "no disconnect command since credit ran out",
}


def _gap_why(item: dict[str, Any]) -> str:
    detail, reason, zone = item["detail"], item["reason"], item["timezone"]
    why = str(_GAP_WHY.get(reason, reason))
    if reason == "protected":
        by = (detail.get("protection") or {}).get("by") or []
        why = "protected by " + (", ".join(str(reason) for reason in by) or "the account flag")
    elif reason == "blocked_window":
        blocks = ((detail.get("calendar") or {}).get("blocked_by")) or []
        why = "calendar: " + "; ".join(f"{b.get('kind')} {b.get('detail')}" for b in blocks if isinstance(b, dict))
    elif reason == "meter_offline":
        seen = detail.get("meter_last_seen_at")
        why = "no meter installed" if detail.get("meter_id") is None else f"meter last heard {local(seen, zone)}"
    elif reason in ("command_failed", "command_pending", "relay_state_mismatch"):
        why = f"disconnect command #{detail.get('last_disconnect_command_id')} {detail.get('last_disconnect_command')}"
    elif reason == "not_attempted" and detail.get("meter_has_relay") is False:
        why = "the meter has no relay"
    return why


def gap_lines(items: list[dict[str, Any]], at: str) -> list[str]:
    lines = [f"{'account':<12} {'category':<11} {'balance':>13} {'exhausted':<16} {'reason':<20} why (other reasons)"]
    for item in items:
        others = [reason for reason in item["all_reasons"] if reason != item["reason"]]
        lines.append(
            f"{_cut(item['account_no'], 12):<12} {_cut(item['category'], 11):<11} {item['balance']:>13} "
            f"{local(item['exhausted_at'], item['timezone']):<16} {item['reason']:<20} {_gap_why(item)}"
            + (f" (also {', '.join(others)})" if others else "")
        )
    lines.append(f"{len(items)} accounts due for disconnection but still connected, at {at}")
    return lines


def settlement_lines(document: dict[str, Any]) -> list[str]:
    statements = document["statements"]
    lines = [
        f"Settlement statements of {document['account_no']} ({document['utility']})" + ("" if statements else ": none")
    ]
    for item in statements:
        difference = item["difference_paise"]
        posted = "debited" if difference > 0 else "credited back" if difference < 0 else "nothing to post"
        parts = "; ".join(
            f"version {part['version']}: {(part['energy_wh'] or 0) / 1000:g} kWh, {format_inr(part['billed_paise'])}"
            for part in item["versions"]
        )
        review = f" — the tariff changed in the month, billed in parts ({parts})" if item["multi_version"] else ""
        lines.append(
            f"{item['month']} {item['kind']}: {item['energy_wh'] / 1000:g} kWh, "
            f"charged {format_inr(item['charged_paise'])}, "
            f"billed {format_inr(item['billed_paise'])}, difference {format_inr(abs(difference))} {posted}{review}"
        )
        demand = item.get("max_demand")
        if demand and demand.get("max_demand_w") is not None:
            zone = document.get("timezone", "UTC")
            when = f" at {local(demand['max_demand_at'], zone)}" if demand.get("max_demand_at") else ""
            lines.append(
                f"  maximum demand {demand['max_demand_w'] / 1000:g} kW{when} (billing snapshot of meter "
                f"#{demand['meter_id']}): over-drawl penalty {demand['status'].replace('_', ' ')}"
            )
        elif demand:
            lines.append("  maximum demand: no billing snapshot at the month's end (no over-drawl penalty yet)")
        lines.append(f"  {'component':<28} {'charged':>13} {'billed':>13} {'difference':>13}")
        for part in item["components"]:
            charged, billed = part["charged_paise"], part["billed_paise"]
            lines.append(
                f"  {part['component']:<28} {format_inr(charged):>13} {format_inr(billed):>13} "
                f"{format_inr(billed - charged):>13}"
            )
    return lines
