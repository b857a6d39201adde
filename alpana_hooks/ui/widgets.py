"""Widgets the screens share: the title and keys bars, a row table that updates in place, a yes/no question, a
secret shown once."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from alpana_hooks.output import escape_block
from alpana_hooks.ui.work import ApiCalls

Row = tuple[str, Sequence[Text]]
KEYS = Binding("question_mark", "app.keys", "Keys")  # every screen's last footer key: all its keys
ALWAYS_SHOWN = ("app.keys", "keys", "quit")  # the KeysBar keeps these however narrow the terminal


class TitleBar(Widget):
    """The top line: "alpana-hooks — " and the screen's sub-title (Textual's Header without its disabled icon and
    clock space: one widget instead of four)."""

    DEFAULT_CSS = "TitleBar { dock: top; height: 1; background: $panel; color: $foreground; content-align: center middle; }"

    def on_mount(self) -> None:
        self.watch(self.screen, "sub_title", self.redraw)

    def redraw(self) -> None:
        self.refresh()

    def render(self) -> Content:
        return self.app.format_title(self.app.title, self.screen.sub_title or "")


class KeysBar(Widget):
    """The footer: the screen's keys on one line that always fits. Keys that do not fit are left out (…),
    never "? Keys" (which lists them all) nor "q Quit". Textual's Footer scrolled them off the right edge."""

    DEFAULT_CSS = """
    KeysBar { dock: bottom; height: 1; background: $footer-background; color: $footer-description-foreground; }
    KeysBar > .keys-bar--key { color: $footer-key-foreground; text-style: bold; }
    """
    COMPONENT_CLASSES = {"keys-bar--key"}

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)

    def bindings_changed(self, screen: Screen) -> None:
        self.refresh()

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def keys(self) -> list[tuple[str, str, bool]]:
        """(key, description, always shown) of the screen's keys, in the order Textual's Footer shows them."""
        seen: dict[str, tuple[str, str, bool]] = {}
        for _, binding, _, _ in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen[binding.action] = (self.app.get_key_display(binding), binding.description,
                                        binding.action in ALWAYS_SHOWN)
        return list(seen.values())

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for key, text in fitted(self.keys(), self.size.width):
            line.append(key, self.get_component_rich_style("keys-bar--key") if text else "")
            line.append(f" {text} " if text else " ")
        return line


def fitted(keys: list[tuple[str, str, bool]], width: int) -> list[tuple[str, str]]:
    """The (key, description) pairs that fit in `width` cells as "key description " each: all of them, or the
    first ones that fit, then ("…", "") for those left out, then the ones always shown."""
    def cells(key: str, text: str) -> int:
        return cell_len(key) + cell_len(text) + 2

    if sum(cells(key, text) for key, text, _ in keys) <= width:
        return [(key, text) for key, text, _ in keys]
    room = width - sum(cells(key, text) for key, text, always in keys if always) - 2
    shown = []
    for key, text, always in keys:
        if always:
            continue
        if cells(key, text) > room:
            break
        room -= cells(key, text)
        shown.append((key, text))
    return [*shown, ("…", ""), *((key, text) for key, text, always in keys if always)]


class RecordScreen(ApiCalls, Screen):
    """A screen of one record (Show Data, View Webhook Event): read each time it is shown (pushed, or back on
    top), read again every poll interval while it is on top and unfinished, left when the record is gone. A
    subclass reads in refresh_data()."""

    def start(self, sub_title: str, focused: Widget) -> None:
        """The screen's on_mount: its sub-title, the focus, then the polling (the first read is on_screen_resume's)."""
        self.sub_title = sub_title
        focused.focus()
        self.set_interval(self.app.poll_interval, self.poll)  # type: ignore[attr-defined]

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        raise NotImplementedError

    def unfinished(self) -> bool:
        """True while what the screen shows may still change (an attempt pending or sending)."""
        raise NotImplementedError

    def poll(self) -> None:
        if self.is_current and self.unfinished():
            self.refresh_data()

    def gone(self, error) -> None:
        self.app.report_error(error)  # type: ignore[attr-defined]
        self.leave()

    def leave(self) -> None:
        """Back to the screen below, once: a read that finds the record gone and the action that removed it
        may both ask."""
        if self.app.screen is self:
            self.dismiss()

    def action_back(self) -> None:
        self.leave()

    def action_refresh(self) -> None:
        self.refresh_data()


class Table(DataTable):
    """A row-cursor DataTable whose rows are keyed by record id; `sync` updates it in place."""

    def __init__(self, columns: Sequence[str], **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self._columns = columns

    def on_mount(self) -> None:
        for name in self._columns:
            self.add_column(Text(name), key=name)

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None when empty)."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def sync(self, rows: list[Row]) -> None:
        """Show these rows in this order: cells that changed are updated in place; when rows come or go,
        the table is rebuilt and the cursor stays on the same record."""
        self._fit_columns(rows)
        keys = [key for key, _ in rows]
        if keys == [row.key.value for row in self.ordered_rows]:
            for key, cells in rows:
                for column, old, new in zip(self.ordered_columns, self.get_row(key), cells, strict=True):
                    if old != new:
                        self.update_cell(key, column.key, new)
            return
        selected = self.selected_key
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if selected in keys:
            self.move_cursor(row=keys.index(selected), animate=False)

    def _fit_columns(self, rows: list[Row]) -> None:
        """Each column as wide as its widest cell, set before the rows change: DataTable measures auto-width
        columns only when idle, and a frame drawn before that would keep the labels' widths."""
        for index, column in enumerate(self.ordered_columns):
            width = max([column.label.cell_len] + [cells[index].cell_len for _, cells in rows if index < len(cells)])
            if column.auto_width or column.width != width:
                column.auto_width, column.width = False, width
                self.refresh()

class Confirm(ModalScreen[bool]):
    """A yes/no question (y or enter: yes; n or escape: no)."""

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm > Vertical { width: 70; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, detail: str = ""):
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(escape_block(self.question), style="bold"))
            if self.detail:
                yield Static(Text(escape_block(self.detail)), classes="hint")
            yield Static(Text("y: yes    n: no"), classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SecretShown(ModalScreen[None]):
    """A signing secret shown once in full (after add or rotate); c copies it (OSC 52)."""

    DEFAULT_CSS = """
    SecretShown { align: center middle; }
    SecretShown > Vertical { width: 76; height: auto; border: thick $success; background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("c", "copy", "Copy"), Binding("escape,enter", "close", "Close")]

    def __init__(self, title: str, secret: str, note: str):
        super().__init__()
        self.title_text, self.secret, self.note = title, secret, note

    def compose(self) -> ComposeResult:
        from alpana_hooks.output import escape

        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield Static(Text(escape(self.secret), style="bold green"))
            yield Static(Text(self.note), classes="hint")
            yield Static(Text("c: copy to the clipboard    enter: close"), classes="hint")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.secret)
        self.notify("secret copied to the clipboard (OSC 52)")

    def action_close(self) -> None:
        self.dismiss(None)
