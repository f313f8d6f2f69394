"""vidcolor: colorize black-and-white video with a pix2pix GAN (U-Net generator, L -> ab)."""

__version__ = "0.1.0"
