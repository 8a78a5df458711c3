# keras-stylegan: the two set-up commands of the README.
#   make demo   create .venv, install, train on the built-in dataset, generate images
#   make test   create .venv, install, run the whole test suite (what CI runs)
#   make test-fast   the tests not marked slow (minutes)
#   make browser   install Chromium + chromedriver for the browser test if missing (as root)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test test-fast demo install clean bench browser

$(STAMP): requirements.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# The style explorer's test drives Debian's Chromium with Selenium
# (tests/export/test_explorer_browser.py): apt-get installs it when missing and root.
browser:
	sh tests/browser/ensure_chromium.sh

test: $(STAMP) browser
	$(PY) -m pytest -q tests

# The tests not marked slow: a few minutes on 2 cores, for development.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" tests

# Train on the built-in dataset (CPU, a few minutes), generate a grid from the
# result, then export it, serve it briefly and fetch a PNG from the server.
demo: $(STAMP)
	$(VENV)/bin/keras-stylegan train --data builtin --config cpu-demo --outdir runs/demo
	$(VENV)/bin/keras-stylegan generate --network runs/demo --seeds 0-9 --class 0-4 \
		--grid --grid-scale 4 --outdir runs/demo/generated
	PYTHON=$(PY) bash export/demo.sh runs/demo runs/demo/served
	@echo "Training grids: runs/demo/fakes*.png   generated: runs/demo/generated/grid.png"
	@echo "served: runs/demo/served/serve-grid.png   TensorBoard: $(VENV)/bin/tensorboard --logdir runs/demo/logs"

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
