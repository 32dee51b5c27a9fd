"""The typed config of the VAE (trainables/families/vae.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS


@dataclass(config=STRICT_KEYS)
class VAEConfig:
    """A convolutional VAE of the AE's shape (Kingma and Welling, 2014; beta as in Higgins et al., 2017)."""

    latent_dim: int = Field(16, ge=1, description="size of the Gaussian latent")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    beta: float = Field(1.0, ge=0, description="weight of the KL term (1: the VAE's evidence bound)")
    batch_size: int = Field(64, ge=1, description="images per step")
    epochs: int = Field(10, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    activation: Literal["relu", "leaky_relu"] = Field("relu", description="nonlinearity of encoder and decoder")
    channels: int = Field(32, ge=1, description="filters of the first convolution; the second has twice as many")
    seed: int = Field(0, description="seeds weights, batch order and the latent draws")
    eval_size: int = Field(1000, ge=2, description="held-out images reconstructed and samples scored each epoch")
    knn_size: int = Field(5000, ge=1, description="training images whose latent means the k-NN classifier is fitted on")
