"""A run's state and its construction: the models, their optimisers and schedules, the step, the RNG.

:class:`RunState` is what ``last.pt`` holds (:meth:`RunState.state_dict`), so ``--resume`` continues
exactly; :func:`build_state` makes a run at step 0 (a fresh encoder from ImageNet weights, a fine-tune
from a generator file). The loop that changes it is :mod:`vidcolor.train.loop`.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from vidcolor.atomic import write_atomic
from vidcolor.colorizer import model_id
from vidcolor.encoders import early_parameters
from vidcolor.errors import BadInputError
from vidcolor.model import ColorNet, EncoderUNet, PatchDiscriminator, build_generator, init_weights
from vidcolor.modelfile import load_generator
from vidcolor.train.config import TrainConfig, init_path

Logger = Callable[[str], None]


@dataclass
class RunState:
    """Everything a run changes as it trains; ``state_dict()`` is what last.pt holds.

    ``G`` and ``D`` are DDP-wrapped under torchrun (after :meth:`distribute`); the state dicts hold
    the plain modules' weights either way. ``G_ema`` (None when ``cfg.ema_decay`` is 0) is the
    exponential moving average of G's weights: what is validated, sampled and saved as best.
    """

    cfg: TrainConfig
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    sched_g: torch.optim.lr_scheduler.LRScheduler
    sched_d: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    step: int = 0  # steps done
    best: float = math.inf  # lowest validation L1 so far (that of best.safetensors)

    @property
    def validated(self) -> torch.nn.Module:
        """The generator that is validated, sampled and saved: the weight average when there is one."""
        return self.G_ema if self.G_ema is not None else unwrap(self.G)

    def state_dict(self) -> dict[str, Any]:
        """last.pt's contents: step, best_val_l1, config, G, G_ema (when kept), D, opt_g, opt_d, sched_g,
        sched_d, scaler, rng (Python's, NumPy's and torch's global RNG states, taken now)."""
        return {
            "step": self.step,
            "best_val_l1": self.best,
            "config": self.cfg.to_dict(),
            "G": unwrap(self.G).state_dict(),
            **({"G_ema": self.G_ema.state_dict()} if self.G_ema is not None else {}),
            "D": unwrap(self.D).state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": _rng_state(),
        }

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        """Continue from ``saved`` (a last.pt's contents), global RNG states included. Its ``config`` is
        not read here: the caller built ``cfg`` from it (:func:`resume_config`)."""
        unwrap(self.G).load_state_dict(saved["G"])
        if self.G_ema is not None:  # a checkpoint from before EMA existed starts its average from G
            self.G_ema.load_state_dict(saved.get("G_ema", saved["G"]))
        unwrap(self.D).load_state_dict(saved["D"])
        self.opt_g.load_state_dict(saved["opt_g"])
        self.opt_d.load_state_dict(saved["opt_d"])
        self.sched_g.load_state_dict(saved["sched_g"])
        self.sched_d.load_state_dict(saved["sched_d"])
        self.scaler.load_state_dict(saved["scaler"])
        self.step, self.best = saved["step"], saved["best_val_l1"]
        _set_rng_state(saved["rng"])

    def save(self, path: Path) -> None:
        """Write :meth:`state_dict` to ``path`` atomically: a kill during the write leaves the previous file."""
        saved = self.state_dict()
        write_atomic(path, lambda tmp: torch.save(saved, tmp))

    def distribute(self, device: torch.device) -> None:
        """Wrap G and D for DDP (gradients all-reduced over the ranks). Call after loading a state."""
        ids = [device.index] if device.type == "cuda" else None
        G = self.G
        if device.type == "cuda":  # batch statistics over the global batch (SyncBatchNorm is GPU-only)
            G = sync_batchnorm(G)
        self.G, self.D = DDP(G, device_ids=ids), DDP(self.D, device_ids=ids)


def build_state(
    cfg: TrainConfig, device: torch.device, amp_dtype: torch.dtype | None, log: Logger, fresh: bool = True
) -> RunState:
    """A run at step 0: initialised G, D (and G's average), their optimisers and lr schedules, on ``device``.

    ``fresh``: a new run, whose G starts from ``cfg.init`` (every weight) or whose encoder U-Net
    starts from ``cfg.encoder_weights``; a resumed run has those weights in last.pt, so it reads
    neither file again. Draws from torch's global RNG (initialisation), in a fixed order."""
    G = build_generator(cfg.generator)
    D = PatchDiscriminator(cfg.d_base, cfg.d_layers).to(device)
    init_weights(D)  # D starts fresh in a fine-tune too: the init file holds a generator only
    if isinstance(G, EncoderUNet):
        init_weights(G.up)  # the encoder keeps timm's initialisation, or the weights loaded next
        init_weights(G.head)
        if cfg.encoder_weights != "none" and fresh:
            load_encoder(G, cfg)
            log(f"encoder {cfg.generator.encoder}: weights from {cfg.encoder_weights}")
        G.freeze_encoder_bn = cfg.encoder_bn_frozen
        for p in early_parameters(G.encoder, cfg.encoder_frozen_stages):
            p.requires_grad_(False)  # no gradient wanted below them either: autograd skips their backward
    else:
        init_weights(G)
    if cfg.init and fresh:
        load_init(G, cfg, log)
    G = G.to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    opt_g = torch.optim.Adam(param_groups(G, cfg), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    # Encoder U-Nets: the encoder group (second) waits encoder_freeze_steps while the new decoder learns.
    factors = [lambda s: lr_factor(s, cfg), lambda s: lr_factor(s, cfg) * (s >= cfg.encoder_freeze_steps)]
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, factors[: len(opt_g.param_groups)])
    sched_d = torch.optim.lr_scheduler.LambdaLR(opt_d, lambda s: lr_factor(s, cfg))
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return RunState(cfg, G, D, G_ema, opt_g, opt_d, sched_g, sched_d, scaler)


def load_encoder(G: EncoderUNet, cfg: TrainConfig) -> None:
    """Put the classifier weights ``cfg.encoder_weights`` names into G's encoder (all of them)."""
    from vidcolor.encoders import encoder_state

    state = encoder_state(cfg.generator.encoder, G.encoder, cfg.encoder_weights)
    missing, unexpected = G.encoder.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:  # encoder_state maps every tensor; anything else is a bug, said plainly
        raise BadInputError(
            f"{cfg.encoder_weights}: {len(missing)} encoder tensors missing, {len(unexpected)} unexpected"
        )


def load_init(G: ColorNet, cfg: TrainConfig, log: Logger) -> None:
    """Put every weight of the generator file ``cfg.init`` names (batch-norm statistics too) into G.

    G was built from ``cfg.generator``, which :func:`vidcolor.train.config.build_config` took from
    that file; a config built otherwise (the Python API) with another architecture is refused here."""
    path = init_path(cfg.init)
    try:
        init_G, info = load_generator(path)
    except BadInputError as e:
        raise BadInputError(f"--init {e}") from None
    if init_G.config != cfg.generator:
        raise BadInputError(
            f"--init {cfg.init}: its generator ({init_G.config}) is not the config's ({cfg.generator}); "
            f"take the architecture from the file (vidcolor.train.config.init_generator)"
        )
    G.load_state_dict(init_G.state_dict())
    log(f"generator: weights from {path} ({model_id(path)}, its step {info.get('step', '?')}); D starts fresh")


def param_groups(G: ColorNet, cfg: TrainConfig) -> list[dict]:
    """Decoder first at lr_g, then (encoder U-Nets) the encoder at lr_g * encoder_lr_scale."""
    if not isinstance(G, EncoderUNet):
        return [{"params": list(G.parameters())}]
    enc = [p for p in G.encoder.parameters() if p.requires_grad]  # frozen stages: not optimised
    ids = {id(p) for p in G.encoder.parameters()}
    rest = [p for p in G.parameters() if id(p) not in ids]
    return [{"params": rest}, {"params": enc, "lr": cfg.lr_g * cfg.encoder_lr_scale}]


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Constant, then linear decay to 0 over the last ``decay_fraction`` of the steps."""
    start = cfg.steps * (1.0 - cfg.decay_fraction)
    if step < start or cfg.decay_fraction == 0:
        return 1.0
    return max(0.0, (cfg.steps - step) / (cfg.steps - start))


def sync_batchnorm(G: torch.nn.Module) -> torch.nn.Module:
    """SyncBatchNorm for DDP on GPUs; timm's converter keeps the activation of its BatchNormAct2d."""
    if isinstance(G, EncoderUNet):
        from timm.layers import convert_sync_batchnorm

        return convert_sync_batchnorm(G)
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(G)


def load_checkpoint(path: Path) -> dict:
    """A last.pt's contents (tensors and plain containers), or BadInputError naming the file."""
    # weights_only=True: a checkpoint is tensors and plain containers; nothing is unpickled as code.
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise BadInputError(f"{path}: unreadable checkpoint ({str(e).splitlines()[0][:160]})") from None


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def unwrap(m: torch.nn.Module) -> torch.nn.Module:
    """The plain module of a DDP-wrapped one (or the module itself)."""
    return m.module if isinstance(m, DDP) else m
