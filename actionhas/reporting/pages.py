"""The one place HTML is put together: a self-contained page and its tables, every value escaped."""
from __future__ import annotations

import html

PAGE_STYLE = ("body{font-family:sans-serif;max-width:1000px;margin:2em auto}td,th{padding:2px 8px;text-align:right}"
              "td:first-child{text-align:left}table{border-collapse:collapse}tr:nth-child(even){background:#f3f3f3}"
              "img{max-width:100%}")


def html_table(head: list[str], rows: list[list[str]], row_attrs: list[dict[str, str]] | None = None) -> str:
    """A table of text cells (escaped here); ``row_attrs``: attributes of each row, e.g. a class."""
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    attrs = row_attrs or [{}] * len(rows)
    body = "".join("<tr" + "".join(f' {k}="{html.escape(v)}"' for k, v in a.items()) + ">"
                   + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r, a in zip(rows, attrs))
    return f"<table><tr>{cells}</tr>{body}</table>"


def html_page(title: str, body: str, style: str = "") -> str:
    """A whole page around ``body`` (HTML), with the shared style and ``style`` (CSS) after it."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{PAGE_STYLE}{style}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
