# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/uts demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Speed/quality measurements with their baselines (tens of minutes on 2 cores); figures go to
# docs/benchmarks.md. Each script also runs alone: see its --help.
bench: $(STAMP)
	$(BIN)/python benchmarks/ontology_bench.py
	$(BIN)/python benchmarks/site_bench.py
	$(BIN)/python benchmarks/mapping_bench.py
	$(BIN)/python benchmarks/vocab_bench.py --memory-clips 0
	$(BIN)/python benchmarks/hier_vs_flat.py --seeds 0
	$(BIN)/python benchmarks/train_bench.py
	$(BIN)/python benchmarks/objective_study.py --seeds 0
	$(BIN)/python benchmarks/pool_bench.py --real

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
