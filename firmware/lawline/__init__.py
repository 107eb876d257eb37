"""lawline: firmware of the county 0148 legal-service line box."""

__version__ = "0.1.0"
