"""handoff: decision packets for AI agents that must hand a decision to a person."""

__version__ = "0.1.0"
