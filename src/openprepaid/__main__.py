"""``python -m openprepaid`` runs the command-line interface."""

from __future__ import annotations

from openprepaid.cli import main

if __name__ == "__main__":
    main()
