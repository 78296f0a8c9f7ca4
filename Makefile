PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: demo test test-cluster lint bench bench-fast bench-quick dist check-java clean

## make demo: create .venv and run the whole pipeline on the built-in synthetic corpus
demo: check-java $(VENV)/.installed-runtime
	$(VENV)/bin/w2v-spark demo --output .demo --config conf/demo.toml --overwrite

## make test: create .venv with the dev, bench and notebooks extras and run the test suite
## (unit, Spark and end-to-end tests; the standalone-cluster tests are make test-cluster)
test: check-java $(VENV)/.installed-dev
	W2V_SPARK_EXTRAS=required $(PY) -m pytest -m "not cluster" $(PYTEST_ARGS)

## make test-cluster: the tests on a Spark standalone cluster started on 127.0.0.1 (CI runs
## them after make test)
test-cluster: check-java $(VENV)/.installed-dev
	W2V_SPARK_EXTRAS=required $(PY) -m pytest -m cluster $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check w2v_spark jobs tests benchmarks
	$(VENV)/bin/mypy

## make bench: w2v_spark, gensim and Spark MLlib side by side on text8, once with the default
## config and once with conf/fast.toml for w2v_spark (about 28 + 21 minutes on 2 cores)
bench: check-java $(VENV)/.installed-dev
	$(PY) -m benchmarks.bench $(BENCH_ARGS)
	$(PY) -m benchmarks.bench --ours-config conf/fast.toml $(BENCH_ARGS)

## make bench-fast: only the second of those runs, conf/fast.toml for w2v_spark (the peers unchanged)
bench-fast: check-java $(VENV)/.installed-dev
	$(PY) -m benchmarks.bench --ours-config conf/fast.toml $(BENCH_ARGS)

## make bench-quick: the same on the first 2M tokens of text8, 1 epoch (a smoke run)
bench-quick: check-java $(VENV)/.installed-dev
	$(PY) -m benchmarks.bench --quick $(BENCH_ARGS)

## make dist: the package as one zip for spark-submit --py-files
dist: $(VENV)/.installed-runtime
	$(PY) -m w2v_spark.spark.packaging dist/w2v_spark.zip

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  echo "Java is missing: Spark needs Java 17 or 21."; \
	  echo "Install it, e.g. sudo apt-get install openjdk-17-jre-headless (Debian/Ubuntu)"; \
	  echo "or brew install openjdk@17 (macOS), then run this command again."; exit 1; }

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e ".[dev,bench,notebooks]"
	touch $@ $(VENV)/.installed-runtime

clean:
	rm -rf .demo .demo-corpus dist .pytest_cache .mypy_cache .ruff_cache
