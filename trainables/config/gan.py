"""The typed config of the GAN (trainables/families/gan.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from trainables.config import MAX_EPOCHS, STRICT_KEYS


@dataclass(config=STRICT_KEYS)
class GANConfig:
    """The report's DCGAN; Adam settings from the DCGAN paper (lr 2e-4, beta1 0.5)."""

    latent_dim: int = Field(100, ge=1, description="size of the noise vector z")
    lr_g: float = Field(2e-4, gt=0, description="generator Adam learning rate")
    lr_d: float = Field(2e-4, gt=0, description="discriminator Adam learning rate")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1 of both optimisers")
    loss: Literal["bce", "hinge"] = Field("bce", description="the report's cross-entropy (non-saturating for the "
                                          "generator) or SN-GAN's hinge loss")
    spectral_norm: bool = Field(False, description="divide each critic layer's weights by their largest singular "
                                "value (SN-GAN)")
    codes: int = Field(0, ge=0, description="categories of InfoGAN's code (Chen et al., 2016): one is drawn with "
                       "each z and the critic learns to tell it from the image, so each comes to draw a kind of digit "
                       "of its own and fewer samples fall between two (0: none, the report's)")
    info_weight: float = Field(1.0, ge=0, description="weight of the code's mutual information term, in both losses "
                               "(and so in the loss_d and loss_g reported)")
    dropout: float = Field(0.3, ge=0, lt=1, description="dropout in the discriminator")
    width: int = Field(64, ge=1, description="channels of the generator's last hidden layer and the critic's first "
                       "(the others: 2x and 4x); the report's is 64")
    ema: float = Field(0.0, ge=0, lt=1, description="decay of a moving average of the generator's weights that "
                       "samples are drawn from (0: none, the report's; 0.999 averages about the last 1,000 steps)")
    batch_size: int = Field(64, ge=1, description="real images per step")
    epochs: int = Field(20, ge=1, le=MAX_EPOCHS, description="passes over the training partition")
    seed: int = Field(0, description="seeds weights, batch order and noise")
    eval_size: int = Field(1000, ge=2, description="samples scored each epoch, against as many held-out images")
