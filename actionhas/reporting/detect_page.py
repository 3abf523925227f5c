"""DIR/index.html of ``detect``: a page to review detections, with each video playing beside them.

For every video: an HTML5 player of its file, a timeline with one mark per instance (a click
seeks the player to the instance's start) and a cursor that follows playback, round time ticks
(``time_ticks``), the instances table (its rows seek too) and the activation plot. The page is
one file of HTML, CSS and JavaScript, with nothing fetched from the network, so it works from
``file://``. Each video's section is a ``<details>``: its video and image are requested only when
it is open (the first few are), which keeps a page of a thousand videos quick to open. Every
value from the outside (names, labels, paths) is HTML-escaped.
"""
from __future__ import annotations

import html
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from actionhas.formats.atomic import write_text_atomic
from actionhas.reporting.pages import html_page, html_table
from actionhas.reporting.time_ticks import SECONDS_BELOW, precise_time, time_ticks

OPEN_FIRST = 10
"""Sections open (and loading their video) when the page opens; the others load when opened."""


@dataclass
class VideoResult:
    """What the page and the terminal show of one video."""
    video: str
    instances: pd.DataFrame                 # label, start, end (s), score
    duration: float | None = None           # seconds
    probabilities: dict[str, float] = field(default_factory=dict)  # localized class -> video-level probability
    timeline: str | None = None             # activation plot, PNG file name in the output directory
    source: str | None = None               # URL of the video file, relative to the page
    failure: str | None = None              # why the video gave no result


def video_source(file: str | Path, out: str | Path, copy: bool = False) -> str:
    """URL of ``file`` for a page in ``out``: relative (the folders may move together), or of a copy in out/videos/."""
    file, out = Path(file), Path(out)
    if copy:
        (out / "videos").mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, out / "videos" / file.name)
        return "videos/" + quote(file.name)
    try:
        return quote(Path(os.path.relpath(file.resolve(), out.resolve())).as_posix())
    except ValueError:  # another drive: no relative path exists
        return file.resolve().as_uri()


SCRIPT = """
function load(d){if(d.dataset.loaded)return;d.dataset.loaded='1';
 d.querySelectorAll('[data-src]').forEach(function(e){e.src=e.dataset.src;});}
function show(d,t){var dur=parseFloat(d.dataset.duration);
 d.querySelectorAll('.cursor').forEach(function(c){c.style.left=(100*Math.min(t/dur,1))+'%';});}
function seek(el){var d=el.closest('details');d.open=true;load(d);var t=parseFloat(el.dataset.t);show(d,t);
 var v=d.querySelector('video');if(!v)return;
 var go=function(){v.currentTime=t;};if(v.readyState>=1)go();else v.addEventListener('loadedmetadata',go,{once:true});}
document.querySelectorAll('details.video').forEach(function(d){if(d.open)load(d);
 d.addEventListener('toggle',function(){if(d.open)load(d);});});
document.addEventListener('click',function(e){var el=e.target.closest('[data-t]');if(el){e.preventDefault();seek(el);}});
document.addEventListener('timeupdate',function(e){var d=e.target.closest('details');if(d)show(d,e.target.currentTime);},true);
document.addEventListener('error',function(e){if(e.target.tagName!=='VIDEO')return;
 var p=e.target.parentNode.querySelector('.playerror');
 p.textContent='This browser cannot play this file ('+(e.target.error?e.target.error.message||'code '+e.target.error.code:'not found')+').';},true);
"""

STYLE = (".video{border-top:1px solid #ccc;padding:.4em 0}summary{cursor:pointer;font-size:1.1em}"
         "video{max-width:100%;max-height:360px;background:#000;display:block}"
         ".tl{margin:.6em 0 1.8em}.row{display:flex;align-items:center;height:1.4em}"
         ".cls{width:9em;font-size:.85em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
         ".track{position:relative;flex:1;height:1em;background:#eee}"
         ".mark{position:absolute;top:0;height:100%;min-width:3px;padding:0;border:0;background:#d62728;cursor:pointer}"
         ".mark:hover{background:#ff7f0e}.cursor{position:absolute;top:-2px;bottom:-2px;width:2px;background:#1f77b4}"
         ".ticks{position:relative;margin-left:9em;height:1.2em;font-size:.75em;color:#555}"
         ".ticks span{position:absolute;transform:translateX(-50%)}.ticks span:first-child{transform:none}"
         "tr.seek{cursor:pointer}tr.seek:hover{background:#fde9c9}.playerror,.failed{color:#b00}")


def _percent(t: float, duration: float) -> str:
    return f"{100 * min(max(t / duration, 0.0), 1.0):.3f}%"


def _timeline(r: VideoResult, duration: float) -> str:
    """One track per class with a mark per instance, the cursor, and the ticks under them."""
    esc = html.escape
    rows = []
    for label in dict.fromkeys(r.instances["label"]):
        marks = "".join(
            f'<button class="mark" data-t="{i.start:.3f}" title="{esc(label)} {precise_time(i.start, duration)}-'
            f'{precise_time(i.end, duration)}, score {i.score:.3f}" style="left:{_percent(i.start, duration)};'
            f'width:{_percent(i.end - i.start, duration)}"></button>'
            for i in r.instances[r.instances["label"] == label].itertuples())
        rows.append(f'<div class="row"><span class="cls" title="{esc(label)}">{esc(label)}</span>'
                    f'<div class="track">{marks}<div class="cursor"></div></div></div>')
    ticks = time_ticks(duration)
    labels = "".join(f'<span style="left:{_percent(p, duration)}">{esc(t)}</span>'
                     for p, t in zip(ticks.positions, ticks.labels))
    return f'<div class="tl">{"".join(rows)}<div class="ticks" title="time ({ticks.unit})">{labels}</div></div>'


def _section(r: VideoResult, index: int) -> str:
    esc = html.escape
    duration = r.duration or max([1.0, *r.instances["end"]])
    found = ", ".join(f"{esc(c)} p={p:.2f}" for c, p in r.probabilities.items())
    summary = f"<b>{esc(r.video)}</b> — {len(r.instances)} instance{'s' * (len(r.instances) != 1)}" + \
        (f" ({found})" if found else "")
    parts = [f'<details class="video" id="video-{index}" data-duration="{duration:.3f}"'
             f'{" open" if index < OPEN_FIRST else ""}><summary>{summary}</summary>']
    if r.source:
        parts.append(f'<video controls preload="metadata" data-src="{esc(r.source)}"></video>'
                     f'<p class="playerror"></p>')
    else:
        parts.append("<p>No video file: features from a store.</p>")
    if not len(r.instances):
        parts.append("<p>No action found.</p>")
    else:
        unit = "s" if duration < SECONDS_BELOW else "m:ss"
        rows = [[i.label, precise_time(i.start, duration), precise_time(i.end, duration), f"{i.score:.3f}"]
                for i in r.instances.itertuples()]
        seeks = [{"class": "seek", "data-t": f"{i.start:.3f}"} for i in r.instances.itertuples()]
        parts.append(_timeline(r, duration))
        parts.append(html_table(["class", f"start ({unit})", f"end ({unit})", "score"], rows, seeks))
    if r.timeline:
        parts.append(f'<img alt="activation timeline of {esc(r.video)}" data-src="{esc(quote(r.timeline))}">')
    return "".join(parts) + "</details>"


def write_detect_page(results: list[VideoResult], out: str | Path, run: str | Path, thresholds: str) -> Path:
    """Write out/index.html for ``results`` (videos that failed included, with their reason); returns its path.

    thresholds: one sentence saying which classes were localized and where instances start and end.
    """
    esc = html.escape
    found = [r for r in results if r.failure is None]
    failed = [r for r in results if r.failure is not None]
    parts = [f"<p>Run: {esc(str(run))}. {sum(len(r.instances) for r in found)} instances in {len(found)} videos. "
             f"{esc(thresholds)} Click an instance (a mark or a table row) to play the video from its start.</p>"]
    if failed:
        items = "".join(f"<li><b>{esc(r.video)}</b>: {esc(r.failure)}</li>" for r in failed)
        parts.append(f'<div class="failed"><p>{len(failed)} video{"s" * (len(failed) != 1)} could not be read:</p>'
                     f"<ul>{items}</ul></div>")
    parts += [_section(r, k) for k, r in enumerate(found)]
    parts.append(f"<script>{SCRIPT}</script>")
    page = Path(out) / "index.html"
    write_text_atomic(page, html_page("Actions found", "".join(parts), STYLE))
    return page
