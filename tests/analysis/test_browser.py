"""The headless-Chromium page loader, on pages written here: real PNGs load, a missing file is reported broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from .browser import load_page

pytestmark = pytest.mark.usefixtures("chromium")  # skips where there is none, fails under SWEEPS_REQUIRE_BROWSER=1


def _png(path: Path) -> str:
    Figure(figsize=(2, 1.5)).savefig(path)
    return path.name


def _page(folder: Path, title: str, sources: list[str]) -> Path:
    images = "\n".join(f'<img src="{src}" alt="{src}">' for src in sources)
    html = folder / "index.html"
    html.write_text(
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body>\n<h1>{title}</h1>\n{images}\n</body></html>\n",
        encoding="utf-8",
    )
    return html


def test_real_pngs_load(tmp_path):
    (tmp_path / "img").mkdir()
    sources = [f"img/{_png(tmp_path / 'img' / 'a.png')}", f"img/{_png(tmp_path / 'img' / 'b.png')}"]
    html = _page(tmp_path, "Two images", sources)
    seen = load_page(html)
    assert seen["title"] == "Two images"
    assert seen["images"] == 2
    assert seen["sources"] == sources
    assert seen["broken"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img", "index.html"]  # the loaded copy is gone


def test_missing_image_is_broken(tmp_path):
    good = _png(tmp_path / "good.png")
    html = _page(tmp_path, "One missing", [good, "missing.png"])
    seen = load_page(html)
    assert seen["title"] == "One missing"
    assert seen["images"] == 2
    assert seen["broken"] == ["missing.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.png", "index.html"]
