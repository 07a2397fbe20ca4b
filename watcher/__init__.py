"""watcher: alerting on export-control and tariff notices and the deadlines they set."""

__version__ = "0.1.0"
