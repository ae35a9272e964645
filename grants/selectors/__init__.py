"""Reads of the grants, split by subject: the agreements, the envelope's figures, the budget
reports' rows, and the next steps shown on the homes."""
