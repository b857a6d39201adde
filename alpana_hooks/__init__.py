"""alpana-hooks: webhook subscriptions, events and send attempts of Alpana Server, per tenant.

`from alpana_hooks import Hooks` is the Python API (see alpana_hooks.api)."""

__version__ = "0.1.0"
__all__ = ["Hooks", "HooksError", "__version__"]


def __getattr__(name: str):
    """Import the API on first use, so the CLI's --help does not pay for it."""
    if name == "Hooks":
        from alpana_hooks.api import Hooks

        return Hooks
    if name == "HooksError":
        from alpana_hooks.errors import HooksError

        return HooksError
    raise AttributeError(f"module 'alpana_hooks' has no attribute {name!r}")
