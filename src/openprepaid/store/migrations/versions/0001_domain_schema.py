"""domain schema: network, customers, meters, tariffs, ledger, readings, events, commands, payments

Revision ID: 0001
Revises:
Create Date: 2026-11-24 04:05:53.819876
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "meter_type",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("phases", sa.BigInteger(), nullable=False),
        sa.Column(
            "connection",
            sa.Enum(
                "whole_current",
                "ct",
                "ct_pt",
                name="meter_connection",
                native_enum=False,
                create_constraint=True,
                length=21,
            ),
            nullable=False,
        ),
        sa.Column("has_relay", sa.Boolean(), nullable=False),
        sa.Column("capture_period_s", sa.BigInteger(), nullable=False),
        sa.Column("object_profile", sa.JSON(), nullable=False),
        sa.Column("scalers", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "capture_period_s IN (900, 1800, 3600)", name=op.f("ck_meter_type_capture_period")
        ),
        sa.CheckConstraint("phases IN (1, 3)", name=op.f("ck_meter_type_phases_1_or_3")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_type")),
        sa.UniqueConstraint("code", name=op.f("uq_meter_type_code")),
    )
    op.create_table(
        "utility",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_utility")),
        sa.UniqueConstraint("code", name=op.f("uq_utility_code")),
    )
    op.create_table(
        "consumer",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_no", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_consumer_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer")),
        sa.UniqueConstraint("utility_id", "consumer_no", name=op.f("uq_consumer_utility_id_consumer_no")),
    )
    with op.batch_alter_table("consumer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consumer_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "meter",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("meter_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("serial", sa.String(length=32), nullable=False),
        sa.Column("manufacturer_code", sa.String(length=3), nullable=False),
        sa.Column("system_title", sa.LargeBinary(length=8), nullable=False),
        sa.Column(
            "comm_mode",
            sa.Enum(
                "dial", "dial_in", name="comm_mode", native_enum=False, create_constraint=True, length=15
            ),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("port", sa.BigInteger(), nullable=True),
        sa.Column(
            "framing",
            sa.Enum("wrapper", "hdlc", name="framing", native_enum=False, create_constraint=True, length=15),
            nullable=False,
        ),
        sa.Column("server_address", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "in_store",
                "installed",
                "removed",
                "faulty",
                name="meter_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("firmware", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("port IS NULL OR (port > 0 AND port < 65536)", name=op.f("ck_meter_port_range")),
        sa.ForeignKeyConstraint(
            ["meter_type_id"], ["meter_type.id"], name=op.f("fk_meter_meter_type_id_meter_type")
        ),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_meter_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter")),
        sa.UniqueConstraint("manufacturer_code", "serial", name=op.f("uq_meter_manufacturer_code_serial")),
        sa.UniqueConstraint("system_title", name=op.f("uq_meter_system_title")),
    )
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_meter_type_id"), ["meter_type_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meter_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "supply_node",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "level",
            sa.Enum(
                "zone",
                "circle",
                "division",
                "subdivision",
                "substation",
                "feeder",
                "dt",
                name="supply_level",
                native_enum=False,
                create_constraint=True,
                length=19,
            ),
            nullable=False,
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["supply_node.id"], name=op.f("fk_supply_node_parent_id_supply_node")
        ),
        sa.ForeignKeyConstraint(
            ["utility_id"], ["utility.id"], name=op.f("fk_supply_node_utility_id_utility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supply_node")),
        sa.UniqueConstraint("utility_id", "level", "code", name=op.f("uq_supply_node_utility_id_level_code")),
    )
    with op.batch_alter_table("supply_node", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supply_node_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supply_node_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "tariff",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_tariff_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff")),
        sa.UniqueConstraint("utility_id", "code", name=op.f("uq_tariff_utility_id_code")),
    )
    with op.batch_alter_table("tariff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tariff_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "account",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_no", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("sanctioned_load_w", sa.BigInteger(), nullable=False),
        sa.Column(
            "payment_mode",
            sa.Enum(
                "prepaid",
                "postpaid",
                name="payment_mode",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("protection_reason", sa.String(length=200), nullable=False),
        sa.Column("supply_node_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("tariff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "closed",
                name="account_status",
                native_enum=False,
                create_constraint=True,
                length=14,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prepaid_since_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sanctioned_load_w > 0", name=op.f("ck_account_sanctioned_load_positive")),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumer.id"], name=op.f("fk_account_consumer_id_consumer")
        ),
        sa.ForeignKeyConstraint(
            ["supply_node_id"], ["supply_node.id"], name=op.f("fk_account_supply_node_id_supply_node")
        ),
        sa.ForeignKeyConstraint(["tariff_id"], ["tariff.id"], name=op.f("fk_account_tariff_id_tariff")),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_account_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("utility_id", "account_no", name=op.f("uq_account_utility_id_account_no")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_category"), ["category"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_consumer_id"), ["consumer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_supply_node_id"), ["supply_node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_tariff_id"), ["tariff_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "consumer_contact",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("consumer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "phone", "email", name="contact_kind", native_enum=False, create_constraint=True, length=13
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumer.id"], name=op.f("fk_consumer_contact_consumer_id_consumer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumer_contact")),
        sa.UniqueConstraint(
            "consumer_id", "kind", "value", name=op.f("uq_consumer_contact_consumer_id_kind_value")
        ),
    )
    with op.batch_alter_table("consumer_contact", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consumer_contact_consumer_id"), ["consumer_id"], unique=False)

    op.create_table(
        "invocation_counter",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_sap", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("next_value", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("next_value >= 0", name=op.f("ck_invocation_counter_non_negative")),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_invocation_counter_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("meter_id", "client_sap", name=op.f("pk_invocation_counter")),
    )
    op.create_table(
        "meter_credential",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_sap", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "lls_password",
                "ek",
                "ak",
                "hls_secret",
                name="credential_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("sealed", sa.LargeBinary(length=256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_meter_credential_meter_id_meter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_credential")),
        sa.UniqueConstraint(
            "meter_id", "client_sap", "kind", name=op.f("uq_meter_credential_meter_id_client_sap_kind")
        ),
    )
    with op.batch_alter_table("meter_credential", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_credential_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "meter_event",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("log", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "source",
            sa.Enum("log", "push", name="event_source", native_enum=False, create_constraint=True, length=12),
            nullable=False,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("log BETWEEN 0 AND 6", name=op.f("ck_meter_event_log_0_to_6")),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_meter_event_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "log", "occurred_at", "code", name=op.f("pk_meter_event")),
    )
    op.create_table(
        "outage",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_outage_meter_id_meter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage")),
    )
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outage_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "reading_billing",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("billing_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("export_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("apparent_vah_total", sa.BigInteger(), nullable=False),
        sa.Column("max_demand_w", sa.BigInteger(), nullable=True),
        sa.Column("max_demand_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_reading_billing_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "billing_at", name=op.f("pk_reading_billing")),
    )
    op.create_table(
        "reading_block",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("interval_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capture_period_s", sa.BigInteger(), nullable=False),
        sa.Column("import_wh", sa.BigInteger(), nullable=False),
        sa.Column("export_wh", sa.BigInteger(), nullable=False),
        sa.Column("apparent_vah", sa.BigInteger(), nullable=False),
        sa.Column("avg_voltage_v", sa.Double(), nullable=True),
        sa.Column("avg_current_a", sa.Double(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_reading_block_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "interval_end_at", name=op.f("pk_reading_block")),
    )
    op.create_table(
        "reading_daily",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("import_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("export_wh_total", sa.BigInteger(), nullable=False),
        sa.Column("apparent_vah_total", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_reading_daily_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "captured_at", name=op.f("pk_reading_daily")),
    )
    op.create_table(
        "reading_instant",
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voltage_v", sa.Double(), nullable=True),
        sa.Column("current_a", sa.Double(), nullable=True),
        sa.Column("power_factor", sa.Double(), nullable=True),
        sa.Column("frequency_hz", sa.Double(), nullable=True),
        sa.Column("active_power_w", sa.Double(), nullable=True),
        sa.Column("import_wh_total", sa.BigInteger(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_reading_instant_meter_id_meter")),
        sa.PrimaryKeyConstraint("meter_id", "captured_at", name=op.f("pk_reading_instant")),
    )
    op.create_table(
        "tariff_version",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tariff_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("effective_from_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["tariff_id"], ["tariff.id"], name=op.f("fk_tariff_version_tariff_id_tariff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_version")),
        sa.UniqueConstraint(
            "tariff_id", "effective_from_at", name=op.f("uq_tariff_version_tariff_id_effective_from_at")
        ),
        sa.UniqueConstraint("tariff_id", "version", name=op.f("uq_tariff_version_tariff_id_version")),
    )
    with op.batch_alter_table("tariff_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tariff_version_tariff_id"), ["tariff_id"], unique=False)

    op.create_table(
        "alert",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dedup_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "acknowledged",
                "closed",
                name="alert_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_alert_account_id_account")),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_alert_meter_id_meter")),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_alert_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_alert_dedup_key")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_meter_id"), ["meter_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "command",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "relay_disconnect",
                "relay_reconnect",
                "load_limit_set",
                "load_limit_enable",
                "load_limit_disable",
                "clock_sync",
                "payment_mode",
                "balance_display",
                "generic_set",
                "generic_action",
                name="command_kind",
                native_enum=False,
                create_constraint=True,
                length=26,
            ),
            nullable=False,
        ),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "sent",
                "confirmed",
                "failed",
                "expired",
                "cancelled",
                name="command_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("readback", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_command_account_id_account")),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_command_meter_id_meter")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_command_idempotency_key")),
    )
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_command_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_command_correlation_id"), ["correlation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_command_meter_id"), ["meter_id"], unique=False)
        batch_op.create_index("ix_command_state_priority", ["state", "priority", "created_at"], unique=False)

    op.create_table(
        "ledger_account",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("balance_paise", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ledger_account_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["utility_id"], ["utility.id"], name=op.f("fk_ledger_account_utility_id_utility")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_account_key")),
    )
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_account_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_account_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "ledger_transaction",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("memo", sa.String(length=500), nullable=False),
        sa.Column("reverses_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_ledger_transaction_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_ledger_transaction_reverses_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transaction")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_transaction_idempotency_key")),
    )
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_transaction_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ledger_transaction_kind"), ["kind"], unique=False)

    op.create_table(
        "meter_installation",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("meter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("initial_import_wh", sa.BigInteger(), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("final_import_wh", sa.BigInteger(), nullable=True),
        sa.Column("removal_reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_meter_installation_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_installation_meter_id_meter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_installation")),
    )
    with op.batch_alter_table("meter_installation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meter_installation_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_meter_installation_meter_id"), ["meter_id"], unique=False)

    op.create_table(
        "payment",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("utility_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payment_ref", sa.String(length=100), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "credited",
                "reversed",
                "rejected",
                name="payment_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "ledger_transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "reversal_ledger_transaction_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("rejection_reason", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint("amount_paise > 0", name=op.f("ck_payment_amount_positive")),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("fk_payment_account_id_account")),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payment_ledger_transaction_id_ledger_transaction"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_payment_reversal_ledger_transaction_id_ledger_transaction"),
        ),
        sa.ForeignKeyConstraint(["utility_id"], ["utility.id"], name=op.f("fk_payment_utility_id_utility")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("utility_id", "payment_ref", name=op.f("uq_payment_utility_id_payment_ref")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_payment_utility_id"), ["utility_id"], unique=False)

    op.create_table(
        "posting",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column(
            "ledger_transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line_no", sa.BigInteger(), nullable=False),
        sa.Column("ledger_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_paise", sa.BigInteger(), nullable=False),
        sa.Column("component", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["ledger_account_id"],
            ["ledger_account.id"],
            name=op.f("fk_posting_ledger_account_id_ledger_account"),
        ),
        sa.ForeignKeyConstraint(
            ["ledger_transaction_id"],
            ["ledger_transaction.id"],
            name=op.f("fk_posting_ledger_transaction_id_ledger_transaction"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posting")),
        sa.UniqueConstraint(
            "ledger_transaction_id", "line_no", name=op.f("uq_posting_ledger_transaction_id_line_no")
        ),
    )
    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_posting_ledger_account_id"), ["ledger_account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_posting_ledger_transaction_id"), ["ledger_transaction_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("posting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_posting_ledger_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_posting_ledger_account_id"))

    op.drop_table("posting")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_utility_id"))
        batch_op.drop_index(batch_op.f("ix_payment_account_id"))

    op.drop_table("payment")
    with op.batch_alter_table("meter_installation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_installation_meter_id"))
        batch_op.drop_index(batch_op.f("ix_meter_installation_account_id"))

    op.drop_table("meter_installation")
    with op.batch_alter_table("ledger_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_kind"))
        batch_op.drop_index(batch_op.f("ix_ledger_transaction_account_id"))

    op.drop_table("ledger_transaction")
    with op.batch_alter_table("ledger_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_account_utility_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_account_account_id"))

    op.drop_table("ledger_account")
    with op.batch_alter_table("command", schema=None) as batch_op:
        batch_op.drop_index("ix_command_state_priority")
        batch_op.drop_index(batch_op.f("ix_command_meter_id"))
        batch_op.drop_index(batch_op.f("ix_command_correlation_id"))
        batch_op.drop_index(batch_op.f("ix_command_account_id"))

    op.drop_table("command")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_utility_id"))
        batch_op.drop_index(batch_op.f("ix_alert_meter_id"))
        batch_op.drop_index(batch_op.f("ix_alert_kind"))
        batch_op.drop_index(batch_op.f("ix_alert_account_id"))

    op.drop_table("alert")
    with op.batch_alter_table("tariff_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariff_version_tariff_id"))

    op.drop_table("tariff_version")
    op.drop_table("reading_instant")
    op.drop_table("reading_daily")
    op.drop_table("reading_block")
    op.drop_table("reading_billing")
    with op.batch_alter_table("outage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outage_meter_id"))

    op.drop_table("outage")
    op.drop_table("meter_event")
    with op.batch_alter_table("meter_credential", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_credential_meter_id"))

    op.drop_table("meter_credential")
    op.drop_table("invocation_counter")
    with op.batch_alter_table("consumer_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_contact_consumer_id"))

    op.drop_table("consumer_contact")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_utility_id"))
        batch_op.drop_index(batch_op.f("ix_account_tariff_id"))
        batch_op.drop_index(batch_op.f("ix_account_supply_node_id"))
        batch_op.drop_index(batch_op.f("ix_account_consumer_id"))
        batch_op.drop_index(batch_op.f("ix_account_category"))

    op.drop_table("account")
    with op.batch_alter_table("tariff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tariff_utility_id"))

    op.drop_table("tariff")
    with op.batch_alter_table("supply_node", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supply_node_utility_id"))
        batch_op.drop_index(batch_op.f("ix_supply_node_parent_id"))

    op.drop_table("supply_node")
    with op.batch_alter_table("meter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meter_utility_id"))
        batch_op.drop_index(batch_op.f("ix_meter_meter_type_id"))

    op.drop_table("meter")
    with op.batch_alter_table("consumer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consumer_utility_id"))

    op.drop_table("consumer")
    op.drop_table("utility")
    op.drop_table("meter_type")
