# Two commands set everything up on a fresh clone:
#   make demo   create .venv, install the zoo, fit two_spirals and evaluate it
#   make test   the test suite (creates .venv first if needed)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   := $(if $(wildcard ../shared/data),../shared/data,)
export ZOO_DATA_DIR ?= $(DATA)

.PHONY: demo test install clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,backends,export]"
	touch $(BIN)/activate

install: $(BIN)/activate

demo: install
	$(BIN)/python -m zoo.fit two_spirals --out demo_models
	$(BIN)/python -m zoo.evaluate demo_models/two_spirals.keras

test: install
	$(BIN)/python -m pytest -q --numprocesses auto --maxprocesses 4 --durations=30

clean:
	rm -rf $(VENV) demo_models *.egg-info
