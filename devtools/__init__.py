"""Demo data, bulk data and their commands: the top layer, absent from the production settings."""
