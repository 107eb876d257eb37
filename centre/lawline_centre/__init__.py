"""lawline-centre: the prefecture's coordination centre over the county boxes' uploads."""

__version__ = "0.1.0"
