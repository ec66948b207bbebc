"""The console command: --help, version, and db upgrade/current/downgrade on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from openprepaid.cli import app

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "db" in result.output and "version" in result.output


def test_version():
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith("openprepaid ")


def test_console_script_runs_as_a_module():
    completed = subprocess.run(
        [sys.executable, "-m", "openprepaid", "version"], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "openprepaid" in completed.stdout


def test_db_upgrade_current_downgrade(empty_database_url):
    base = ["--database-url", empty_database_url, "db"]
    result = runner.invoke(app, [*base, "current"])
    assert result.exit_code == 0 and "(empty)" in result.output
    result = runner.invoke(app, [*base, "upgrade"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, [*base, "current"])
    assert "up to date" in result.output
    result = runner.invoke(app, [*base, "downgrade", "base"])
    assert result.exit_code == 0, result.output


def test_db_upgrade_uses_the_data_dir_by_default(tmp_path):
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "openprepaid.sqlite3").exists()


def test_unsupported_or_unreachable_database_is_a_clear_error():
    result = runner.invoke(app, ["--database-url", "mysql://x@localhost/db", "db", "upgrade"])
    assert result.exit_code == 1
    assert "unsupported database" in result.output
    result = runner.invoke(app, ["--database-url", "postgresql://nobody@127.0.0.1:1/none", "db", "current"])
    assert result.exit_code == 1
    assert "error:" in result.output


def test_bad_configuration_exits_2(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("timezone = 'Nowhere/Land'\n")
    result = runner.invoke(app, ["--config", str(config), "version"])
    assert result.exit_code == 2
    assert "unknown time zone" in result.output
