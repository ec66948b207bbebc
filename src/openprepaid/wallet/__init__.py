"""Server-side prepaid money: tariffs (pure), double-entry ledger, charging, recharge, rules, settlement."""
