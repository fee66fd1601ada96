"""What every page shares: the access check, the not-built state, tables with CSV download, metric
cards and table cells coloured green / amber / red against the dictionary, and the freshness footer.

Text typed by people (client and staff names, alert messages, file contents) is shown as plain text:
in tables, or through `plain()` wherever Streamlit would read a string as Markdown. A client called
`![x](https://...)` must not make a clinician's browser fetch that address.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import streamlit as st

from dashboards import audit_trail, auth
from dashboards.access import Scope, pages_for, requested_clinician
from dashboards.data.dictionary import MetricDefinition
from dashboards.data.periods import freshness
from dashboards.data.status import Status, delta_colour, format_change, format_value
from dashboards.data.warehouse import WarehouseNotReady
from operational_api.auth import SignedInUser

NAV_NOTICE_KEY = "nav_notice"
# Rows a paged table shows at a time (a whole practice is 100 clinicians on the large practice): one screenful of an
# attention-first list, all of it on screen rather than scrolled inside the grid; the filter and the search reach
# the rest, and the first paint sends and draws a quarter of the rows.
PAGE_ROWS = 25
# st.dataframe's row height (the header's too) and its frame, in px.
_GRID_ROW_PX, _GRID_BORDER_PX = 35, 3
# CommonMark lets any ASCII punctuation be backslash-escaped; escaped, none of it starts Markdown, HTML,
# Streamlit's :colour[...] / :material/...: directives or $LaTeX$.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# A Markdown hard line break: the lines of one element (status_lines), each on its own line.
LINE_BREAK = "  \n"
_STATUS_COLOURS = {s: s.colour for s in Status}
# The nearest of Streamlit's Markdown colours to each status colour (a dot before a line of text).
_MARKDOWN_COLOURS = {
    Status.GOOD: "green",
    Status.REVIEW: "orange",
    Status.URGENT: "red",
    Status.UNKNOWN: "gray",
}
# Cards are containers keyed `status-<name>-<slug>`; Streamlit gives each the class `st-key-<key>`.
_CSS = (
    "<style>"
    + "".join(
        f'[class*="st-key-status-{s.name.lower()}-"] {{border-left: 6px solid {c}; border-radius: 0.5rem;}}'
        for s, c in _STATUS_COLOURS.items()
    )
    + "</style>"
)


def run_page(page_key: str, body: Callable[[SignedInUser, Scope], None]) -> None:
    """Run a page for the signed-in user: refuse roles without the page, explain an unbuilt warehouse,
    and end with the freshness of the figures."""
    user: SignedInUser | None = st.session_state.get(auth.USER_KEY)
    if user is None or page_key not in pages_for(user.role):
        st.error("This page is not part of your role's dashboards.")
        st.stop()
    st.html(_CSS)
    link_params = st.session_state.pop(auth.LINK_PARAMS_KEY, None)
    if link_params:  # the first page after sign-in: the bookmark's choices (each page still checks them)
        st.query_params.update(link_params)
    notice = st.session_state.pop(NAV_NOTICE_KEY, None)
    if notice:
        st.info(notice)
    audit_trail.begin_page()
    try:
        body(user, Scope.of(user))
        freshness_footer()
    except WarehouseNotReady as exc:
        st.info(str(exc))
    audit_trail.end_page(user, page_key)


def freshness_footer() -> None:
    st.divider()
    st.caption(freshness().caption)


def _column_config(frame: pl.DataFrame, overrides: dict | None) -> dict:
    config = {}
    for name, dtype in frame.schema.items():
        if dtype in (pl.Float64, pl.Float32):
            config[name] = st.column_config.NumberColumn(format="%.1f")
        elif dtype == pl.Date:
            config[name] = st.column_config.DateColumn(format="YYYY-MM-DD")
        elif isinstance(dtype, pl.Datetime):
            config[name] = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")
    return config | (overrides or {})


def _coloured(frame: pl.DataFrame, colour_by: dict[str, str]) -> tuple[pl.DataFrame, dict]:
    """The frame for the screen: each column in `colour_by` becomes a one-pill list cell in its status colour.

    A MultiselectColumn colours each option, so every distinct shown value is an option with the colour
    of its status. (A pandas Styler does the same at ~5 ms a row; this costs next to nothing.)
    """
    config: dict = {}
    columns = []
    for column in frame.columns:
        if column in set(colour_by.values()):
            continue
        if column not in colour_by:
            columns.append(pl.col(column))
            continue
        texts = [_cell_text(v) for v in frame[column].to_list()]
        statuses = frame[colour_by[column]].to_list()
        colour_of: dict[str, str] = {}
        for text, status in zip(texts, statuses, strict=True):
            if text:
                colour_of.setdefault(text, Status.__members__.get(str(status), Status.UNKNOWN).colour)
        text = pl.Series(column, texts, dtype=pl.String)
        # A one-element list per cell (a split on a character that never occurs); empty cells stay null.
        columns.append(
            pl.when(pl.lit(text) == "").then(None).otherwise(pl.lit(text).str.split("\x00")).alias(column)
        )
        config[column] = st.column_config.MultiselectColumn(
            options=list(colour_of), color=list(colour_of.values())
        )
    return frame.select(columns), config


def _standard_type(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        item = dtype.value_type
        return pa.list_(
            pa.string()
            if pa.types.is_large_string(item) or pa.types.is_string_view(item)
            else _standard_type(item)
        )
    if pa.types.is_string_view(dtype):
        return pa.large_string()
    if pa.types.is_time64(dtype):
        return pa.time64("us")
    return dtype


def _arrow(frame: pl.DataFrame) -> pa.Table:
    """The frame as the Arrow table st.dataframe sends as is.

    Handed a polars frame, st.dataframe goes through pandas and back to Arrow: ~30 ms for a 1,000-row table,
    on every re-render. Lists and times are cast to the types the pandas route produced (list, microsecond
    times); dates stay dates and integer columns with nulls stay integers.
    """
    table = frame.to_arrow()
    schema = pa.schema([pa.field(f.name, _standard_type(f.type)) for f in table.schema])
    return table if schema.equals(table.schema) else table.cast(schema)


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


@dataclass(frozen=True)
class Paging:
    """How a long table is read a page at a time: `search` is the column a typed text is looked for in (the
    person's name), `filter_by` a column whose values can be picked one at a time, each offered with its count
    over the whole table (so the choice doubles as the table's summary), and `noun` what a row is."""

    noun: str
    search: str
    filter_by: str | None = None
    page_rows: int | None = None  # None: PAGE_ROWS, read when the table is drawn


def _page(frame: pl.DataFrame, key: str, paging: Paging) -> pl.DataFrame:
    """The rows of `frame` to put on screen, in the frame's own order (sort it by importance first), with the
    controls that reach every other row: a filter, a search and the page."""
    rows = paging.page_rows or PAGE_ROWS
    if frame.height <= rows:
        return frame  # one page: nothing to reach, no controls
    filter_col, search_col, page_col = st.columns([5, 3, 2], vertical_alignment="bottom")
    if paging.filter_by is not None:
        counts = dict(frame.group_by(paging.filter_by, maintain_order=True).len().iter_rows())
        chosen = filter_col.segmented_control(
            paging.filter_by,
            list(counts),
            format_func=lambda value: f"{value} ({counts[value]})",
            key=f"{key}_filter",
            help=f"The counts cover all {frame.height} {paging.noun}; pick one to list only those",
        )
        if chosen is not None and chosen in counts:
            frame = frame.filter(pl.col(paging.filter_by) == chosen)
    needle = search_col.text_input(
        f"Find {paging.noun}", key=f"{key}_search", placeholder="Part of a name"
    ).strip()
    if needle:
        frame = frame.filter(
            pl.col(paging.search).str.to_lowercase().str.contains(needle.lower(), literal=True)
        )
    pages = max(1, -(-frame.height // rows))
    page_key = f"{key}_page"
    if st.session_state.get(page_key, 0) >= pages:  # a narrower filter or search left fewer pages
        st.session_state[page_key] = 0
    page = page_col.selectbox(
        "Rows",
        range(pages),
        format_func=lambda p: f"{p * rows + 1}–{min((p + 1) * rows, frame.height)} of {frame.height}",
        key=page_key,
        disabled=pages == 1,
    )
    return frame.slice(page * rows, rows)


def table(
    frame: pl.DataFrame,
    key: str,
    empty: str,
    file_name: str | None = None,
    column_config: dict | None = None,
    height: int | str = "auto",
    colour_by: dict[str, str] | None = None,
    limit: int | None = None,
    clients: Iterable[int] | None = None,
    paging: Paging | None = None,
) -> None:
    """A table with its CSV download, or the empty state saying what to do.

    The clients it shows are noted for the audit log: `clients` when the page dropped the frame's `client_id`
    (or alert entity) columns before showing it, else those columns of the rows on screen.

    `colour_by` maps a shown column to a column holding Status names: its cells show as pills in the
    status colour and the status column is left off the screen (the CSV keeps both, values and words). `limit` caps the rows
    on screen (the first ones, so sort by importance); `paging` shows a page of rows at a time with a filter
    and a search that reach every other row. The CSV always has every row.
    """
    if frame.is_empty():
        st.info(empty)
        return
    shown = frame if paging is None else _page(frame, key, paging)
    client_ids = audit_trail.client_ids_in(frame) if clients is None else [int(c) for c in clients]
    # A page of a paged table shows only its own clients (unless the page named them: then all of them).
    audit_trail.shown(
        client_ids if shown is frame or clients is not None else audit_trail.client_ids_in(shown)
    )
    if shown.is_empty():
        st.info(f"No {paging.noun} match the filter and search.")
        csv_button(frame, key, file_name, clients=client_ids)
        return
    if limit is not None and shown.height > limit:
        st.caption(f"Showing the first {limit} of {shown.height} rows; the CSV has them all.")
        shown = shown.head(limit)
    if paging is not None and height == "auto":
        # The whole page on screen: "auto" stops at ten rows and scrolls the rest inside the grid.
        height = _GRID_ROW_PX * (shown.height + 1) + _GRID_BORDER_PX
    config = _column_config(shown, column_config)
    if colour_by:
        shown, pills = _coloured(shown, colour_by)
        config |= pills
    st.dataframe(
        _arrow(shown), hide_index=True, width="stretch", column_config=config, height=height, key=key
    )
    csv_button(frame, key, file_name, clients=client_ids)


def plain(text: object) -> str:
    """`text` for a Streamlit element that reads Markdown, escaped so it shows literally."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))


def csv_source(
    frame: pl.DataFrame,
    activity: auth.Activity | None,
    downloaded: Callable[..., None] | None = None,
) -> Callable[[], str]:
    """What the CSV button calls when clicked: the CSV, unless the session was signed out or went idle
    meanwhile (the button may still be on a screen nobody cleared yet). `downloaded` records it, refused or not."""

    def write() -> str:
        if not auth.download_allowed(activity):
            if downloaded:
                downloaded(0, "refused")
            raise PermissionError("download refused: the session was signed out or idle for 15 minutes")
        text = frame.write_csv()
        if downloaded:
            downloaded(frame.height)
        return text

    return write


def csv_button(
    frame: pl.DataFrame, key: str, file_name: str | None = None, clients: Iterable[int] | None = None
) -> None:
    # The CSV is written only when clicked, and the click does not rerun the page.
    file_name = file_name or f"{key}.csv"
    client_ids = audit_trail.client_ids_in(frame) if clients is None else clients
    user = st.session_state.get(auth.USER_KEY)
    st.download_button(
        "Download CSV",
        csv_source(
            frame, auth.current_activity(), audit_trail.download_recorder(user, key, file_name, client_ids)
        ),
        file_name=file_name,
        mime="text/csv",
        key=f"{key}_csv",
        on_click="ignore",
        icon=":material/download:",
    )


def metric_card(
    container,
    key: str,
    label: str,
    definition: MetricDefinition | None,
    value,
    *,
    status: Status | None = None,
    change=None,
    value_text: str | None = None,
    help: str | None = None,
    note: str | None = None,
) -> None:
    """A bordered st.metric with a left bar in its status colour (against the dictionary benchmark)."""
    status = status or Status.UNKNOWN
    notes = []
    if help:
        notes.append(help)
    if definition is not None:
        if definition.target_text != "—":
            notes.append(f"Target {definition.target_text}.")
        if status is not Status.UNKNOWN:
            notes.append(f"Status: {status.team_label.lower()}.")
    with container.container(key=f"status-{status.name.lower()}-{key}"):
        st.metric(
            label,
            value_text if value_text is not None else format_value(definition, value),
            note if note is not None else format_change(definition, change),
            delta_color="off" if note is not None else delta_colour(definition),
            delta_arrow="off" if note is not None else "auto",
            help=" ".join(notes) or None,
            border=True,
        )


def status_line(status: Status, text: str) -> None:
    """One line of alerts / nudges / coaching with a dot in its status colour (the text may hold client names)."""
    status_lines([(status, text)])


def status_lines(lines: Iterable[tuple[Status, str]]) -> None:
    """A section's lines of alerts / nudges / coaching, each with a dot in its status colour, as one element.

    One element, not one a line: the browser pays each element a React commit and its own Markdown parse (about
    6 ms of main thread each on the benchmark machine), and Practice Overview's panels had two dozen lines.
    """
    text = LINE_BREAK.join(f"{_dot(status)} {plain(line)}" for status, line in lines)
    if text:
        st.markdown(text)


def status_legend() -> None:
    st.caption(
        f"{_dot(Status.GOOD)} at or past the benchmark · {_dot(Status.REVIEW)} between the benchmark and the alert "
        f"threshold · {_dot(Status.URGENT)} past the alert threshold — benchmarks and thresholds from the metric "
        "dictionary"
    )


def _dot(status: Status) -> str:
    # Streamlit's own colour directive, not an HTML span: Markdown that allows HTML goes through a second, HTML
    # parse in the browser (rehype-raw), which took more of Practice Overview's first paint than its charts.
    return f":{_MARKDOWN_COLOURS[status]}[●]"


def clinician_picker(
    scope: Scope,
    names: dict[int, str],
    default: int | None,
    key: str,
    allow_practice: bool = False,
    label: str = "Clinician",
) -> tuple[int | None, bool]:
    """Pick whose figures to show among the clinicians in scope (None = the whole practice).

    The URL's `?clinician=` preselects; a value in the URL or planted in session state that the scope
    does not allow is dropped and reported as refused. Loaders still get only ids from the scope.
    """
    options: list[int | None] = ([None] if allow_practice and scope.sees_everyone else []) + list(names)
    raw = st.session_state.get(key, st.query_params.get("clinician"))
    wanted, refused = requested_clinician(scope, raw, default)
    if wanted not in options:
        refused = refused or raw is not None
        wanted = default if default in options else (options[0] if options else None)
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]
    if len(options) > 1:
        wanted = st.selectbox(
            label,
            options,
            index=options.index(wanted),
            key=key,
            format_func=lambda cid: "Whole practice" if cid is None else names.get(cid, str(cid)),
        )
    if not scope.allows(wanted):  # belt and braces: never hand a loader an id outside the scope
        return default, True
    return wanted, refused


def refused_notice(refused: bool) -> None:
    if refused:
        st.warning(
            "You can only view figures of clinicians you are responsible for; showing what you may see."
        )
