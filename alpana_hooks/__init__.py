"""alpana-hooks: administer Alpana Server webhook subscriptions from the command line."""

__version__ = "0.1.0"
