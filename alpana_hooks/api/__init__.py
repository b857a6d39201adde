"""The public Python API: `Hooks` does what the commands do, returns records and raises HooksError."""

from alpana_hooks.api.hooks import EVENT_ID, Hooks

__all__ = ["EVENT_ID", "Hooks"]
