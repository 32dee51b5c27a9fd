"""The model families by name (trainables/family.py says what each record holds; README: "Adding a model")."""

from __future__ import annotations

from trainables.families.autoencoder import AE, DAE
from trainables.families.gan import GAN
from trainables.families.glo import GLO
from trainables.families.vae import VAE

FAMILIES = {family.name: family for family in (AE, DAE, GAN, GLO, VAE)}
