"""pix2pix networks: U-Net generators (L -> ab) and a 70x70 PatchGAN discriminator.

Both work on the normalised Lab ranges of :mod:`vidcolor.color`: L in [-1, 1] goes in, ab in
[-1, 1] (tanh) comes out. A generator accepts any height and width: it reflect-pads the input to
a multiple of ``2**depth`` and crops the output back, so odd video sizes need no special care.

Two architectures, chosen by ``GeneratorConfig.arch`` through :func:`build_generator`:

- ``unet-v1``: the pix2pix U-Net, trained from scratch;
- ``encoder-unet-v1``: a U-Net decoder on a classification backbone (EfficientNet-Lite, ResNet,
  ... from timm), whose ImageNet weights give the generator a head start on what things are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vidcolor.config import GeneratorConfig


def _norm(ch: int, kind: str) -> nn.Module:
    return nn.BatchNorm2d(ch) if kind == "batch" else nn.Identity()


def _conv_block(cin: int, cout: int, norm: str, act: nn.Module) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=norm == "none"), _norm(cout, norm), act)


class ColorNet(nn.Module):
    """What every generator is: L (N,1,H,W) in [-1,1], any H and W -> ab (N,2,H,W) in [-1,1].

    Subclasses implement :meth:`core` for sizes that are multiples of ``config.multiple``; the
    padding around it lives here, once.
    """

    config: GeneratorConfig

    def forward(self, L: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """L (N,1,H,W) in [-1,1], any H and W -> ab (N,2,H,W) in [-1,1].

        ``hint`` (hint-capable generators only): (N,3,H,W) = (a * mask, b * mask, mask), ab in the
        model's [-1,1] range and mask 1 where the colour is given, 0 elsewhere (see
        :func:`make_hint`). None, or an all-zero hint, is automatic colorization.
        """
        if L.ndim != 4 or L.shape[1] != 1:
            raise ValueError(f"generator expects L of shape (N,1,H,W), got {tuple(L.shape)}")
        if hint is not None:
            if not self.config.hints:
                raise ValueError("this generator takes no colour hints (it was trained without them)")
            if hint.shape != (L.shape[0], 3, *L.shape[-2:]):
                raise ValueError(f"hint must be (N,3,H,W) like L, got {tuple(hint.shape)} for L {tuple(L.shape)}")
            hint = pad_to_multiple(hint, self.config.multiple)
        h, w = L.shape[-2:]
        return self.core(pad_to_multiple(L, self.config.multiple), hint)[..., :h, :w]

    def core(self, x: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        """The network proper, for H and W that are multiples of ``config.multiple`` (what engines export:
        engines colorize automatically, so they export ``core(L)``)."""
        raise NotImplementedError


class Generator(ColorNet):
    """U-Net: L (N,1,H,W) in [-1,1] -> ab (N,2,H,W) in [-1,1].

    Down: strided 4x4 convs (pix2pix) each followed by ``blocks`` 3x3 convs. Up: bilinear 2x
    up-sampling + skip concatenation + 3x3 convs (no transposed convs, so no checkerboard).
    """

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or GeneratorConfig()
        if cfg.arch != "unet-v1":
            raise ValueError(f"Generator builds unet-v1, not {cfg.arch!r} (use build_generator)")
        lrelu = nn.LeakyReLU(0.2, inplace=True)
        relu = nn.ReLU(inplace=True)
        c0 = cfg.channels(0)
        self.stem = _conv_block(4 if cfg.hints else 1, c0, "none", lrelu)
        self.down = nn.ModuleList()
        for i in range(cfg.depth):
            cin, cout = cfg.channels(i), cfg.channels(i + 1)
            layers = [
                nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=cfg.norm == "none"),
                _norm(cout, cfg.norm),
                lrelu,
            ]
            for _ in range(cfg.blocks):
                layers += list(_conv_block(cout, cout, cfg.norm, lrelu))
            self.down.append(nn.Sequential(*layers))
        self.up = nn.ModuleList()
        for i in reversed(range(cfg.depth)):
            cin, cskip, cout = cfg.channels(i + 1), cfg.channels(i), cfg.channels(i)
            layers = list(_conv_block(cin + cskip, cout, cfg.norm, relu))
            for _ in range(cfg.blocks - 1):
                layers += list(_conv_block(cout, cout, cfg.norm, relu))
            self.up.append(nn.Sequential(*layers))
        self.head = nn.Conv2d(c0, 2, 1)

    def core(self, x: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        conv = self.stem[0]
        if hint is not None:
            x = conv(torch.cat([x, hint], dim=1))
        elif self.config.hints:
            # No hint = zeros in the hint channels, whose weights then add nothing: convolving L with
            # the L slice alone is exact and costs what a hint-free generator costs.
            x = F.conv2d(x, conv.weight[:, :1], conv.bias, padding=conv.padding)
        else:
            x = conv(x)
        x = self.stem[2](x)
        skips = [x]
        for block in self.down:
            x = block(x)
            skips.append(x)
        skips.pop()
        for block in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skips.pop()], dim=1))
        return torch.tanh(self.head(x))


class EncoderUNet(ColorNet):
    """U-Net decoder on a classification backbone: L (N,1,H,W) in [-1,1] -> ab (N,2,H,W) in [-1,1].

    The encoder sees what its ImageNet training saw: L as a gray picture in [0, 1] (sRGB gray is
    within 0.02 of L*/100), copied to three channels and normalised by the encoder's own mean and
    std, kept as buffers so the file fixes them. Copying keeps the pretrained first convolution
    exact (folding it to one channel cannot represent the per-channel mean at zero-padded borders)
    and costs one broadcast. The decoder (SMP's Unet shape) goes up one level at a time: bilinear
    2x, concatenation with the encoder's map at that stride (with L itself at full resolution, for
    sharp colour edges), ``blocks`` 3x3 conv-BN-ReLU of ``min(base * 2**level, max_channels)``
    channels; a 1x1 conv and tanh give ab.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        from vidcolor.encoders import create_encoder, input_stats

        self.config = cfg = config
        if cfg.arch != "encoder-unet-v1":
            raise ValueError(f"EncoderUNet builds encoder-unet-v1, not {cfg.arch!r}")
        self.encoder = create_encoder(cfg.encoder, cfg.depth)
        mean, std = input_stats(cfg.encoder)
        self.register_buffer("in_mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("in_std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        skips = [1, *self.encoder.feature_info.channels()]  # channels at strides 1, 2, 4, ...
        relu = nn.ReLU(inplace=True)
        self.up = nn.ModuleList()
        cin = skips[-1]
        for level in reversed(range(cfg.depth)):
            cout = cfg.channels(level)
            layers = list(_conv_block(cin + skips[level], cout, cfg.norm, relu))
            for _ in range(cfg.blocks - 1):
                layers += list(_conv_block(cout, cout, cfg.norm, relu))
            self.up.append(nn.Sequential(*layers))
            cin = cout
        self.head = nn.Conv2d(cfg.channels(0), 2, 1)
        self.freeze_encoder_bn = False  # training option: keep the encoder's ImageNet BN statistics

    def core(self, L: torch.Tensor, hint: torch.Tensor | None = None) -> torch.Tensor:
        x = ((L + 1.0) * 0.5 - self.in_mean) / self.in_std  # (N,1,H,W) -> (N,3,H,W) by broadcasting
        feats = [L, *self.encoder(x)]
        y = feats.pop()
        for block in self.up:
            y = F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)
            y = block(torch.cat([y, feats.pop()], dim=1))
        return torch.tanh(self.head(y))

    def train(self, mode: bool = True) -> EncoderUNet:
        super().train(mode)
        if mode and self.freeze_encoder_bn:
            # With small batches, batch statistics are noise; ImageNet's running statistics are not.
            for m in self.encoder.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


# the names vidcolor.config.GENERATOR_ARCHS lists (GeneratorConfig checks them without torch)
ARCHITECTURES: dict[str, type[ColorNet]] = {"unet-v1": Generator, "encoder-unet-v1": EncoderUNet}


def build_generator(config: GeneratorConfig | None = None) -> ColorNet:
    """The generator ``config.arch`` names, with fresh (untrained, never downloaded) weights."""
    config = config or GeneratorConfig()
    return ARCHITECTURES[config.arch](config)


def make_hint(ab: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hint channels from colours and where they hold: ab (N,2,H,W) in [-1,1], mask (N,1,H,W) in {0,1}
    -> (N,3,H,W) = (a * mask, b * mask, mask). An all-zero mask means "no hint"."""
    mask = mask.to(ab.dtype)
    return torch.cat([ab * mask, mask], dim=1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad (N,C,H,W) at the bottom/right up to multiples of ``multiple`` (reflect; replicate for tiny frames)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"  # reflect needs pad < size
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN on (L, ab): (N,1,H,W) + (N,2,H,W) -> logits (N,1,H/8-2,W/8-2).

    Instance norm (pix2pix's option) makes each sample's score independent of the rest of the
    batch, so real and fake pairs can share one forward pass (one DDP all-reduce per step).
    """

    def __init__(self, base: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, base, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        ch = base
        for i in range(1, n_layers + 1):
            nxt = base * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(ch, nxt, 4, stride=stride, padding=1, bias=False),
                nn.InstanceNorm2d(nxt, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            ch = nxt
        layers.append(nn.Conv2d(ch, 1, 4, stride=1, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([L, ab], dim=1))


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """pix2pix initialisation: conv weights ~ N(0, 0.02), norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
