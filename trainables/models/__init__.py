"""The four models as plain `nn.Module`s."""
