"""Packet lint: rules (small pure checks), their registry, the engine and output formats."""
