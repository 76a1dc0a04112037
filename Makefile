# `make search`: set up (if needed) and run the default search. `make test`: set up and run the tests.
# Set-up creates .venv; on a machine without an NVIDIA GPU it installs the CPU build of torch first.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml constraints-cpu.txt | cksum | cut -d' ' -f1)

.PHONY: setup search test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints-cpu.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	@if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		echo "GPU found: installing the default (CUDA) torch build"; \
		$(VENV)/bin/python -m pip install --quiet -e ".[dev]"; \
	else \
		echo "no GPU: installing the CPU torch build first"; \
		$(VENV)/bin/python -m pip install --quiet -c constraints-cpu.txt torch && \
		$(VENV)/bin/python -m pip install --quiet -c constraints-cpu.txt -e ".[dev]"; \
	fi
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

search: $(STAMP)
	$(VENV)/bin/dse search --target fpga-small --budget 0.6mJ

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_default_study.py

clean:
	rm -rf $(VENV) dse-out
