# kerasless: two commands on a fresh machine (Python 3.11, gcc, make):
#   make demo   creates .venv, installs, exports the shipped digits model, predicts with runtime_py, C and Keras
#   make test   creates .venv, installs, runs the test suite
#   make conformance   only the conformance suite (tests/conformance/README.md)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test conformance clean bench embedded-bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(MAKE) --no-print-directory -C examples/c demo PYTHON=$(CURDIR)/$(BIN)/python
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# make conformance: runtime_py (both backends) and the C header against tests/conformance (also part of make test)
conformance: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_conformance.py

# make bench: kerasless against Keras, onnxruntime, LiteRT and numpy -> docs/benchmarks.md, docs/benchmarks.png
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/run.py

# make embedded-bench: the header on emulated Cortex-M and AVR chips -> docs/embedded.md, docs/embedded.png
# (needs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc-avr avr-libc simavr; .ci/run installs them)
embedded-bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[embedded-bench]'
	$(BIN)/python benchmarks/embedded_bench.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
