"""The typed config of GLO (trainables/families/glo.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS

LatentNorm = Literal["sphere", "ball", "none"]
Sampler = Literal["normal_sphere", "gaussian_fit", "gmm"]


@dataclass(config=STRICT_KEYS)
class GLOConfig:
    """The report's GLO: latent_dim 74 on the unit sphere, Adam lr 0.01 (latents) and 0.001 (generator),
    batch 32, 15 epochs."""

    latent_dim: int = Field(74, ge=1, description="size of each image's latent vector")
    lr_latent: float = Field(0.01, gt=0, description="(sparse) Adam learning rate of the latents")
    lr_generator: float = Field(0.001, gt=0, description="Adam learning rate of the generator")
    width: int = Field(64, ge=1, description="channels of the generator's last hidden layer (the others: 2x and 4x); "
                       "the report's is 64")
    loss: Literal["l2", "l1", "laplacian_l1"] = Field(
        "l2", description="reconstruction loss: the report's L2, L1, or the GLO paper's L1 of a Laplacian pyramid"
    )
    latent_norm: LatentNorm = Field("sphere", description="where latents are kept")
    sampler: Sampler = Field(
        "normal_sphere", description="how new latents are drawn: the report's, the GLO paper's, or a mixture"
    )
    gmm_components: int = Field(10, ge=1, description="mixture components of the gmm sampler")
    batch_size: int = Field(32, ge=1, description="images per step")
    epochs: int = Field(15, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    seed: int = Field(0, description="seeds weights, latents and batch order")
    eval_size: int = Field(1000, ge=2, description="samples scored each epoch, against as many held-out images")
    encode_size: int = Field(250, ge=1, description="held-out images given latents each epoch, for k-NN and val_mse")
    encode_steps: int = Field(30, ge=1, description="Adam steps that fit a held-out image's latent")
    encode_every: int = Field(3, ge=1, description="epochs between held-out encodings (val_mse, val_psnr, knn_acc)")
