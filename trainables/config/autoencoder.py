"""The typed configs of the AE and the DAE (trainables/families/autoencoder.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS


@dataclass(config=STRICT_KEYS)
class AEConfig:
    """The report's AE: latent_dim 10, Adam lr 0.01, batch 32, 10 epochs."""

    latent_dim: int = Field(10, ge=1, description="size of the latent code")
    lr: float = Field(0.01, gt=0, description="Adam learning rate")
    batch_size: int = Field(32, ge=1, description="images per step")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    activation: Literal["relu", "leaky_relu"] = Field("relu", description="nonlinearity of encoder and decoder")
    channels: int = Field(32, ge=1, description="filters of the first convolution; the second has twice as many")
    seed: int = Field(0, description="seeds weights, batch order and noise")
    eval_size: int = Field(1000, ge=1, description="held-out images scored each epoch, the same for every trial")
    knn_size: int = Field(5000, ge=1, description="training images whose codes the k-NN classifier is fitted on")


@dataclass(config=STRICT_KEYS)
class DAEConfig(AEConfig):
    """The report's DAE: the AE with leaky ReLUs, trained on inputs with Gaussian noise (std 0.05, 0.25, 0.7)."""

    activation: Literal["relu", "leaky_relu"] = Field("leaky_relu", description="nonlinearity of encoder and decoder")
    noise_std: float = Field(0.25, ge=0, description="std of the Gaussian noise added to training inputs")
    eval_noise_stds: tuple[float, ...] = Field(
        (0.05, 0.25, 0.7), min_length=1, description="noise levels the denoised PSNR is reported at (and the "
        "report's figures show)"
    )
