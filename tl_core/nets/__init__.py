"""Keras definitions of backbones whose ImageNet weights come from PyTorch files."""
