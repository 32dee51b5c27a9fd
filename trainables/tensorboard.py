"""A trial's images after each epoch, in a TensorBoard event file in its folder, beside the scalars Ray writes there."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
import uuid

import numpy as np
import torch
from PIL import Image
from pyarrow import fs
from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event
from tensorboardX.proto.summary_pb2 import Summary

from trainables.data import Data
from trainables.family import Family, TrainedModel

log = logging.getLogger(__name__)

GRID = 4  # images a side
SEED = 0  # the same latents every epoch, so that each slot shows one draw as training goes on


def draw_grid(family: Family, cfg, data: Data, state: dict) -> np.ndarray:
    """A (4 * 28, 4 * 28) grid in [0, 1] of a training state's `images`: samples of fixed latents, or the
    reconstructions of the first 16 test digits."""
    # A new network draws its first weights from torch's global generator, which training goes on drawing from.
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        network = family.build(cfg, state).eval()
        trained = TrainedModel(family, cfg, network, trial_id="", epoch=state["epoch"])
        return tile(family.images(trained, GRID * GRID, SEED, data), GRID)


def tile(images: np.ndarray, rows: int) -> np.ndarray:
    """Images (rows * cols, H, W) as one image (rows * H, cols * W), row by row."""
    n, h, w = images.shape
    return images.reshape(rows, n // rows, h, w).swapaxes(1, 2).reshape(rows * h, n // rows * w)


def image_summary(tag: str, grid: np.ndarray) -> Summary:
    """A grid (H, W) in [0, 1] as a grayscale PNG: tensorboardX's `image` stores three channels, thrice the bytes."""
    png = io.BytesIO()
    Image.fromarray(np.round(grid * 255).astype(np.uint8), "L").save(png, format="PNG")
    height, width = grid.shape
    return Summary(value=[Summary.Value(tag=tag, image=Summary.Image(
        height=height, width=width, colorspace=1, encoded_image_string=png.getvalue()))])


class EpochImages:
    """One run of a trial's grids, at step = epoch. Written straight into the trial's folder where the storage is a
    filesystem (local or shared); else into a local file uploaded whole after each epoch (a grid is 5-15 KB), as
    object stores cannot append. A run restored from a checkpoint writes a file of its own; TensorBoard reads them
    as one."""

    def __init__(self, family: Family, cfg, data: Data, filesystem: fs.FileSystem, folder: str):
        self.family, self.cfg, self.data = family, cfg, data
        self.filesystem, self.folder = filesystem, folder
        self.tag = "samples" if family.samples else "reconstructions"
        self.staging = None if filesystem.type_name == "local" else tempfile.TemporaryDirectory()
        self.writer = None  # opened with the first grid, so that failing to is one more failed epoch

    def write(self, state: dict) -> None:
        """The grid of the state after an epoch. Images are a view of training, not part of it: a failure (a storage
        hiccup, say) is logged and the trial goes on."""
        try:
            grid = draw_grid(self.family, self.cfg, self.data, state)
            if self.writer is None:
                self.filesystem.create_dir(self.folder, recursive=True)
                # Beside Ray's own event file; a name of its own, which a restored run's cannot overwrite.
                prefix = os.path.join(self.staging.name if self.staging else self.folder, "events")
                self.writer = EventsWriter(prefix, f".{uuid.uuid4().hex[:8]}.images")
            summary = image_summary(self.tag, grid)
            self.writer.write_event(Event(wall_time=time.time(), step=state["epoch"], summary=summary))
            self.writer.flush()  # on disk now (SummaryWriter's flush leaves what its thread has not taken yet)
            if self.staging:
                fs.copy_files(self.staging.name, self.folder, destination_filesystem=self.filesystem)
        except Exception as e:  # whatever a filesystem, an object store or drawing raises
            log.warning("the images of epoch %d were not written to %s: %s", state["epoch"], self.folder, e)

    def close(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except Exception as e:  # every epoch's grid is flushed already
            log.warning("the event file of images in %s did not close: %s", self.folder, e)
        if self.staging is not None:
            self.staging.cleanup()
