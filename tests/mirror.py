"""Download mirrors for the data tests: a real HTTP server on 127.0.0.1 over a folder, and ones that never answer."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")  # the official test split


def copy_mnist_test_split(data_dir: Path, folder: Path) -> Path:
    """Copy the published test split's files (byte-identical, so torchvision's MD5s hold) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in MNIST_TEST_FILES:
        shutil.copyfile(data_dir / "MNIST" / "raw" / name, folder / name)
    return folder


@contextlib.contextmanager
def serve_folder(folder: Path):
    """An HTTP server over `folder`: yields its base URL and the list of paths asked of it."""
    asked: list[str] = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            asked.append(self.path)
            super().do_GET()

        def log_message(self, *args):  # quiet: pytest shows stderr of failing tests
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{free.getsockname()[1]}/"


@contextlib.contextmanager
def silent_url():
    """A URL whose server accepts connections and never answers, as a network that drops packets: only a timeout
    ends a request to it."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes the handshakes; nothing ever reads or replies
        yield f"http://127.0.0.1:{server.getsockname()[1]}/"
