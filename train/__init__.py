"""GAN training for vidcolor (``vidcolor train``): data, config, the loop, plots.

Training needs packages colorizing does not (the ``train`` extra); without them ``vidcolor train``
stops here with one line that says how to install them.
"""

import importlib.util

from vidcolor.errors import BadInputError

_TRAIN_ONLY = {"torchvision": "torchvision", "matplotlib": "matplotlib", "tomli_w": "tomli-w"}  # module: package

_missing = [package for module, package in _TRAIN_ONLY.items() if importlib.util.find_spec(module) is None]
if _missing:
    raise BadInputError(f"training needs {', '.join(_missing)}: pip install 'vidcolor[train]'")
