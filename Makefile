# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv when needed
# and reinstall only when pyproject.toml changed (the stamp file), so they are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint venv bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,ray,box2d]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/drid demo

# Lint and type checks first (seconds), then the suite; their settings are in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check drid tests benchmarks scripts examples
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# Peers of benchmarks/track.py, installed without their dependencies: supervision requires
# opencv-python, whose cv2 (OpenCV 5, no HOG or Haar cascades) would replace the headless 4.x one.
bench-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps "supervision>=0.26,<0.28"
	$(BIN)/python -c "import cv2, sys; print('cv2', cv2.__version__); sys.exit(0 if cv2.__version__.startswith('4.') else 1)"

bench: $(STAMP)
	$(BIN)/python benchmarks/engine_overhead.py

clean:
	rm -rf $(VENV) out build *.egg-info
