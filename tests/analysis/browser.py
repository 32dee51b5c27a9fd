"""Open a generated HTML page from disk in real headless Chromium and report what the browser saw.

Only the standard library and Debian's `chromium` binary: the page is copied beside itself (so relative image
paths resolve as they do for the real file) with a small script appended that, once the window has loaded, writes
a JSON summary into the DOM; `chromium --headless --dump-dom` prints that DOM and the summary is read back from it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

TIMEOUT_S = 60.0
CANDIDATES = ("chromium", "chromium-browser")
INSTALL_HINT = "install Debian's chromium: apt-get install -y --no-install-recommends chromium"

# Flags for a closed network: without the background-networking ones Chromium's own connections are refused.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
)

# Runs while the page is parsed: lazy images are made eager so the load event waits for every image.
# Once the window has loaded, the summary goes into a <pre> as pure-ASCII JSON with no & < >, so the dumped DOM
# holds it verbatim.
SCRIPT = """
<script>
(() => {
  for (const img of document.images) if (img.loading === "lazy") img.loading = "eager";
  window.addEventListener("load", () => {
    const imgs = Array.from(document.images);
    const summary = {
      title: document.title,
      images: imgs.length,
      sources: imgs.map((img) => img.getAttribute("src")),
      broken: imgs.filter((img) => !img.complete || img.naturalWidth === 0).map((img) => img.getAttribute("src")),
    };
    const pre = document.createElement("pre");
    pre.id = "__load_summary_TOKEN";
    pre.textContent = JSON.stringify(summary).replace(
      /[^\\x20-\\x7e]|[&<>]/g, (c) => "\\\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
    document.body.appendChild(pre);
  });
})();
</script>
"""


class BrowserError(RuntimeError):
    """Chromium is missing, failed, timed out, or the page never finished loading."""


def find_chromium() -> str | None:
    """The Chromium executable on PATH, or None."""
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    return None


def load_page(html: Path, timeout: float = TIMEOUT_S) -> dict:
    """Load `html` from disk (file://) in headless Chromium; return what the browser saw once the window loaded.

    {"title": str, "images": int, "sources": [src, ...], "broken": [src, ...]}: `sources` are the src attributes
    of every <img> in document order, `broken` those whose load failed (not complete, or naturalWidth 0).
    """
    html = Path(html).resolve()
    if not html.is_file():
        raise FileNotFoundError(html)
    chromium = find_chromium()
    if chromium is None:
        raise BrowserError(f"no Chromium on PATH (looked for {', '.join(CANDIDATES)}): {INSTALL_HINT}")

    token = secrets.token_hex(8)
    # Beside the original, so relative paths resolve the same; a dot name, removed whatever happens.
    copy = html.with_name(f".{html.stem}.load-{token}.html")
    copy.write_bytes(html.read_bytes() + SCRIPT.replace("TOKEN", token).encode("ascii"))
    try:
        with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
            command = [chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", "--virtual-time-budget=10000",
                       copy.as_uri()]
            dom, stderr, returncode = _run(command, timeout)
    finally:
        copy.unlink(missing_ok=True)

    match = re.search(rf'<pre id="__load_summary_{token}">([^<]*)</pre>', dom)
    if match is None:
        detail = f"exit status {returncode}; stderr tail:\n{_tail(stderr)}"
        raise BrowserError(f"Chromium printed no load summary for {html} (the window never loaded?): {detail}")
    return json.loads(match.group(1))


def _run(command: list[str], timeout: float) -> tuple[str, str, int]:
    """Run Chromium in its own process group, killing the whole group on timeout."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          start_new_session=True) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise BrowserError(f"Chromium did not finish within {timeout:g} s: {' '.join(command)}") from None
    return stdout.decode("utf-8", errors="replace"), stderr.decode("utf-8", errors="replace"), process.returncode


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
