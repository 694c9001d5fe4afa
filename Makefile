# SPDX-License-Identifier: GPL-3.0-or-later
# The README's two commands are `make demo` and `make test`; everything else is for developers.
# `make build CXX=clang++` builds with Clang in its own build directory.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
PRESET ?= release
ifeq ($(origin CXX),command line)
  BUILD_DIR := build/$(PRESET)-$(notdir $(CXX))
  CC_FOR_CXX := $(if $(findstring clang,$(CXX)),clang,gcc)
  CONFIGURE_EXTRA := -DCMAKE_CXX_COMPILER=$(CXX) -DCMAKE_C_COMPILER=$(CC_FOR_CXX)
else
  BUILD_DIR := build/$(PRESET)
  CONFIGURE_EXTRA :=
endif
CMAKE_FLAGS ?=
# Let ccache reuse objects across clones of the repository (CI builds a fresh clone).
export CCACHE_BASEDIR ?= $(CURDIR)
export CCACHE_NOHASHDIR ?= 1

.PHONY: all deps configure build test demo bench fuzz asan format format-check clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake --preset $(PRESET) -B $(BUILD_DIR) $(CONFIGURE_EXTRA) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)
	@ln -sfn $(PRESET)$(if $(filter command line,$(origin CXX)),-$(notdir $(CXX)),)/mkeys build/mkeys

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

asan:
	@$(MAKE) --no-print-directory test PRESET=asan

demo: build
	@bash scripts/demo.sh

bench: deps
	@bash bench/run.sh

fuzz: deps
	@bash fuzz/run.sh $${FUZZ_SECONDS:-60}

format:
	@git ls-files '*.cpp' '*.hpp' '*.c' | xargs clang-format -i

format-check:
	@git ls-files '*.cpp' '*.hpp' '*.c' | xargs clang-format --dry-run --Werror

clean:
	@rm -rf build
