"""What the people who run the portal see of it: logs, errors, metrics and health (docs/operations.md)."""
