"""GAN training for vidcolor (``vidcolor train``): data, config, the loop, plots."""
