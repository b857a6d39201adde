"""Tables that fit, decided in one place: on a terminal a borderless table (as `kubectl get` and `gh` print) whose
least useful columns are left out until it fits, where an id or a time is never broken, a URL is shortened in the
middle and times read as ages; into a pipe plain tab-separated rows with whole values and no header (as `gh`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from alpana_hooks.timeutil import from_iso, utcnow

GAP = 2  # spaces between two columns
FOLD_MIN = 12  # the narrowest a free-text column (folded or cut) is made before columns are left out
MIDDLE_MIN = 24  # the narrowest a URL column is made before columns are left out


class When(str):
    """A timestamp cell: its age or time to come on a terminal ("5m ago", "in 30s"), the ISO text elsewhere."""

    def age(self) -> str:
        return age_text(int((utcnow() - from_iso(self)).total_seconds()))


def age_text(seconds: int) -> str:
    """A time `seconds` ago in its largest unit ("5m ago"), or to come when negative ("in 30s")."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if abs(seconds) >= size or unit == "s":
            count = f"{abs(seconds) // size}{unit}"
            return f"{count} ago" if seconds >= 0 else f"in {count}"
    raise AssertionError("unreachable")


class Due(When):
    """A time something is due: "in 5m" on a terminal, "due" once it has passed."""

    def age(self) -> str:
        shown = super().age()
        return shown if shown.startswith("in ") else "due"


@dataclass
class Grid:
    """A table's columns and rows; how it is drawn is left to `terminal_table` or `tab_separated`."""

    columns: tuple[str, ...]
    title: str | None = None
    drop: tuple[str, ...] = ()  # left out in this order until the table fits the terminal
    fold: tuple[str, ...] = ()  # free text that may fold over lines (a detail view's values)
    cut: tuple[str, ...] = ()  # free text cut at the end with an ellipsis to fit (descriptions, previews)
    middle: tuple[str, ...] = ()  # shortened in the middle to fit (URLs)
    header: bool = True  # False for a detail view's field/value rows
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add_row(self, *cells: str) -> None:
        self.rows.append(cells)


def tab_separated(grid: Grid) -> str:
    """One line per row, cells separated by tabs, whole values (the cells are escaped: no tab or newline)."""
    return "".join("\t".join(row) + "\n" for row in grid.rows)


def _cell(value: str, wide: bool) -> str:
    return value if wide or not isinstance(value, When) else value.age()


def _width(grid: Grid, index: int, wide: bool) -> int:
    return max([len(grid.columns[index])] + [len(_cell(row[index], wide)) for row in grid.rows])


def _needed(grid: Grid, keep: list[int], wide: bool) -> int:
    """The width the kept columns need: whole for fixed ones, a minimum for folding and shortened ones."""
    total = GAP * (len(keep) - 1)
    for index in keep:
        name, width = grid.columns[index], _width(grid, index, wide)
        total += min(width, FOLD_MIN if name in grid.fold + grid.cut else MIDDLE_MIN if name in grid.middle else width)
    return total


def fitted_columns(grid: Grid, width: int, wide: bool) -> list[int]:
    """The columns that are shown: all with --wide, else without the `drop` ones that do not fit."""
    keep = list(range(len(grid.columns)))
    for name in () if wide else grid.drop:
        if _needed(grid, keep, wide) <= width:
            break
        keep.remove(grid.columns.index(name))
    return keep


def middle_cut(text: str, width: int) -> str:
    """`text` shortened to `width` by an ellipsis in the middle: the scheme, host and the path's end stay."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2 + (width - 1) % 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def natural_width(grid: Grid) -> int:
    """The width of the table with every column whole (for --wide)."""
    return sum(_width(grid, i, True) for i in range(len(grid.columns))) + GAP * (len(grid.columns) - 1)


def column_widths(grid: Grid, keep: list[int], width: int, wide: bool) -> dict[int, int]:
    """Each kept column's width: fixed ones whole; the flexible ones (URL, free text) at least their minimum,
    then the room that is left shared in proportion to what each lacks of its whole width."""
    whole = {i: _width(grid, i, wide) for i in keep}
    flexible = [i for i in keep if grid.columns[i] in grid.middle + grid.fold + grid.cut]
    if wide:
        return whole
    widths = {i: whole[i] if i not in flexible else
              min(whole[i], MIDDLE_MIN if grid.columns[i] in grid.middle else FOLD_MIN) for i in keep}
    room = max(0, width - sum(widths.values()) - GAP * (len(keep) - 1))
    lacking = {i: whole[i] - widths[i] for i in flexible}
    total = sum(lacking.values())
    for index in flexible:
        widths[index] += lacking[index] if total <= room else room * lacking[index] // total
    return widths


def terminal_table(grid: Grid, width: int, wide: bool):
    """The rich table for a terminal of `width` columns (wide: every column, nothing shortened)."""
    from rich.table import Table

    keep = fitted_columns(grid, width, wide)
    widths = column_widths(grid, keep, width, wide)
    table = Table(title=grid.title, title_justify="left", box=None, pad_edge=False, padding=(0, 1),
                  header_style="bold", show_header=grid.header)
    for index in keep:
        name = grid.columns[index]
        table.add_column(name.upper(), width=widths[index], no_wrap=name not in grid.fold,
                         overflow="ellipsis" if name in grid.cut else "fold")
    for row in grid.rows:
        table.add_row(*(middle_cut(_cell(row[i], wide), widths[i]) if grid.columns[i] in grid.middle
                        else _cell(row[i], wide) for i in keep))
    return table
