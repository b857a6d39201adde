"""The `ui` start-up baseline: a minimal Textual app showing one DataTable of the tenant's subscriptions.

It reads the SQLite file with sqlite3 in on_mount and fills one DataTable (no header, no footer, no
worker, no configuration, no migrations): what is left is the floor that Textual and sqlite3 set for
any terminal UI that shows a table. Usage: ui_baseline_app.py DB TENANT; q quits.
"""

import sqlite3
import sys

from textual.app import App, ComposeResult
from textual.widgets import DataTable


class Baseline(App):
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        database, tenant = sys.argv[1], sys.argv[2]
        conn = sqlite3.connect(database)
        rows = conn.execute("SELECT id, event_type, state, url, description FROM subscriptions WHERE tenant = ?"
                            " ORDER BY id", (tenant,)).fetchall()
        conn.close()
        table = self.query_one(DataTable)
        table.add_columns("ID", "Event", "State", "URL", "Description")
        for row in rows:
            table.add_row(*(str(cell) for cell in row))


if __name__ == "__main__":
    Baseline().run()
