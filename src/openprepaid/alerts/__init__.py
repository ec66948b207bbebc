"""Event classification, alert rules, outage tracking and notification channels."""
