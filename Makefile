# mw: build, test, run and benchmark. `make build` needs Go and an MPI with its pkg-config
# file, and installs nothing; `make deps` installs Debian's packages (as root), and `make
# run`, `make test` and `make bench` run it first, so they work on a fresh Debian machine.

# Go as this machine kind installs it, when it is not on the PATH already.
export PATH := $(PATH):/usr/local/go/bin
GO         ?= go
PKG_CONFIG ?= pkg-config
# Which MPI to build against: openmpi (pkg-config ompi-c), mpich (pkg-config mpich; also
# Intel MPI, Cray MPICH, MVAPICH where their file is mpich.pc), or the name of another
# pkg-config file (impi, cray-mpich, ...). Empty: Open MPI if pkg-config finds it, else MPICH.
# MPICC=<C compiler wrapper> (mpicc, Cray's cc) builds with that instead of pkg-config.
MPI        ?=
MPICC      ?=
# The launcher for `make run`; empty: the chosen MPI's (mpirun.openmpi or mpiexec.mpich, by
# the names that do not depend on the system's alternatives, else mpirun or mpiexec).
MPIRUN     ?=
NP         ?= 3
# Root may run mpirun here (CI runs as root); more ranks than cores are allowed.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1

# mw's version: git's name of the commit; without git, Go's build information gives it.
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null)
LDFLAGS  := $(if $(VERSION),-X main.version=$(VERSION))
GO_WANT  := $(shell sed -n 's/^go //p' go.mod)
BIN      := ./mw
RUNDIR   := run
DEB_PKGS := openmpi-bin libopenmpi-dev mpich libmpich-dev pkg-config gcc parallel slurmctld slurmd slurm-client munge openssh-server openssh-client iproute2
# The packages whose tests start MPI ranks themselves (internal/mpitest), or run mw or an
# example under the launcher (internal/mwtest, examples/internal/exrun): `make test` runs
# them once more against each other MPI that pkg-config finds (Open MPI, MPICH).
MPI_TEST_PKGS := ./mpi/ ./internal/mpitest/... ./internal/mwtest/ ./cmd/mw-cmanager/ . ./examples/...
# The workload packages whose tests under the launcher have MPI in their names (TestMPI...,
# ...MPI, TestUnderMPIRun...): the other MPI's pass runs those tests alone, as the rest of
# these packages is pure Go, the same code under either MPI.
MPI_RUN_PKGS  := ./interp/ ./overlay/ ./taskfarm/ ./pool/
MPI_RUN_TESTS := MPI
# The MPIs the tests know, as name:pkg-config file:build tag.
OTHER_MPIS    := openmpi:ompi-c: mpich:mpich:mpich

.DEFAULT_GOAL := build
.PHONY: deps build test unit mpitest fuzz run bench lint clean

# select_mpi: shell code that picks the MPI ($$mpi: openmpi, mpich, another pkg-config name,
# or cc for MPICC) and its build tag ($$tags), exporting CGO_CFLAGS and CGO_LDFLAGS for
# another pkg-config name and CC for MPICC; or says in one line what is missing and how to
# install it, and fails. It runs in each recipe, after `make deps` may have installed things.
define select_mpi
need() { echo "make: missing $$1; $$2" >&2; exit 1; }; \
command -v $(GO) >/dev/null || need "Go $(GO_WANT) (go.mod)" "install it without root: mkdir -p \$$HOME/.local && curl -L https://go.dev/dl/go$(GO_WANT).linux-amd64.tar.gz | tar -C \$$HOME/.local -xz; PATH=\$$HOME/.local/go/bin:\$$PATH (or: module load go)"; \
have=$$($(GO) env GOVERSION 2>/dev/null | sed 's/^go//'); \
[ "$$(printf '%s\n1.21\n' "$$have" | sort -V | head -1)" = 1.21 ] || need "Go $(GO_WANT) (go.mod; $(GO) is $$have, too old to fetch it)" "install it without root: mkdir -p \$$HOME/.local && curl -L https://go.dev/dl/go$(GO_WANT).linux-amd64.tar.gz | tar -C \$$HOME/.local -xz; PATH=\$$HOME/.local/go/bin:\$$PATH"; \
mpi="$(MPI)"; tags=""; \
if [ -n "$(MPICC)" ]; then \
	command -v "$(MPICC)" >/dev/null || need "$(MPICC), the MPICC given" "module load your MPI, or name its C compiler wrapper"; \
	mpi=cc; tags=mpicc; export CC="$(MPICC)"; \
else \
	command -v $(PKG_CONFIG) >/dev/null || need "pkg-config" "apt-get install pkg-config (or: dnf install pkgconf)"; \
	[ -n "$$mpi" ] || { $(PKG_CONFIG) --exists ompi-c && mpi=openmpi; } || { $(PKG_CONFIG) --exists mpich && mpi=mpich; } || \
		need "an MPI's pkg-config file (ompi-c.pc of Open MPI, mpich.pc of MPICH)" "apt-get install libopenmpi-dev (or libmpich-dev), or: module load openmpi (or an MPICH-family module); another MPI: make MPI=<its pkg-config name>"; \
	case $$mpi in \
	openmpi|ompi-c) $(PKG_CONFIG) --exists ompi-c || need "Open MPI's pkg-config file ompi-c.pc" "apt-get install libopenmpi-dev, or: module load openmpi";; \
	mpich) tags=mpich; $(PKG_CONFIG) --exists mpich || need "MPICH's pkg-config file mpich.pc" "apt-get install libmpich-dev, or: module load mpich";; \
	*) tags=mpicc; $(PKG_CONFIG) --exists "$$mpi" || need "the pkg-config file $$mpi.pc (MPI=$$mpi)" "module load that MPI, or add its lib/pkgconfig directory to PKG_CONFIG_PATH"; \
		export CGO_CFLAGS="$$($(PKG_CONFIG) --cflags "$$mpi")" CGO_LDFLAGS="$$($(PKG_CONFIG) --libs "$$mpi")";; \
	esac; \
fi; \
cc=$$($(GO) env CC); command -v "$${cc%% *}" >/dev/null || need "a C compiler for cgo ($$cc)" "apt-get install gcc (or: module load gcc)"
endef

# deps installs Debian's packages only when one is missing (idempotent, quiet), without
# touching the system's choice of MPI (update-alternatives: Open MPI and MPICH both provide
# mpicc and mpirun; Debian keeps Open MPI's, and mw uses mpiexec.mpich, mpicc.mpich and
# pkg-config mpich by name). A temporary policy-rc.d keeps the installs from starting system
# services (sshd, slurm, munge): the tests start their own, by hand.
deps:
	@command -v dpkg >/dev/null || { echo "make: deps installs Debian's packages; elsewhere install Go $(GO_WANT), an MPI with its pkg-config file, gcc and GNU parallel yourself" >&2; exit 1; }; \
	missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		[ "$$(id -u)" = 0 ] || { echo "make: missing Debian packages:$$missing; as root: apt-get install$$missing" >&2; exit 1; }; \
		echo "installing:$$missing"; \
		rc=/usr/sbin/policy-rc.d; own=0; \
		if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc && chmod +x $$rc && own=1; fi; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		status=$$?; [ $$own = 1 ] && rm -f $$rc; exit $$status; \
	fi

# run, test and bench install what is missing first; build alone never installs anything.
INSTALL := $(if $(filter run test bench,$(MAKECMDGOALS)),deps)
build: $(INSTALL)
	@$(select_mpi); \
	echo "$(GO) build$${tags:+ -tags $$tags} -ldflags '$(LDFLAGS)' -o $(BIN) .   # MPI: $$mpi"; \
	$(GO) build -tags "$$tags" -ldflags "$(LDFLAGS)" -o $(BIN) .

# test: unit tests with the race detector and real mpirun runs against the chosen MPI, the
# MPI tests and the workloads' runs under the launcher once more against the other one,
# and a short fuzz of every parser.
test: build lint
	@$(select_mpi); set -x; $(GO) test -tags "$$tags" -race -count=1 -timeout 20m ./...
	@$(select_mpi); \
	for other in $(OTHER_MPIS); do \
		name=$${other%%:*}; pc=$$(echo $$other | cut -d: -f2); tag=$${other##*:}; \
		[ $$name = $$mpi ] && continue; \
		if ! $(PKG_CONFIG) --exists $$pc; then echo "make: test: no $$name here (pkg-config $$pc): its pass of the MPI tests is left out; make deps installs it"; continue; fi; \
		echo "+ $(GO) test -tags '$$tag' -race -count=1 $(MPI_TEST_PKGS)   # against $$name"; \
		$(GO) test -tags "$$tag" -race -count=1 -timeout 10m $(MPI_TEST_PKGS) || exit 1; \
		echo "+ $(GO) test -tags '$$tag' -race -count=1 -run '$(MPI_RUN_TESTS)' $(MPI_RUN_PKGS)   # against $$name"; \
		$(GO) test -tags "$$tag" -race -count=1 -timeout 10m -run '$(MPI_RUN_TESTS)' $(MPI_RUN_PKGS) || exit 1; \
	done
	$(MAKE) --no-print-directory fuzz

# A failed target runs once more: Go 1.26's fuzz coordinator may fail a target with a bare
# "context deadline exceeded" as -fuzztime ends (golang/go#75804, fixed in Go 1.27), while
# a real crasher is saved under testdata and fails again.
FUZZTIME ?= 5s
fuzz:
	@$(select_mpi); \
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		pkg=$$(dirname $$f); \
		for t in $$(grep -h '^func Fuzz' $$f | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -tags "$$tags" -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/mw-fuzz.log 2>&1 || { \
				tail -20 /tmp/mw-fuzz.log; \
				echo "fuzz $$pkg $$t failed; once more (a crasher saved under testdata fails again)"; \
				$(GO) test -tags "$$tags" -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/mw-fuzz.log 2>&1 || { tail -40 /tmp/mw-fuzz.log; exit 1; }; }; \
		done; \
	done

# lint: gofmt, and go vet of everything against the chosen MPI, and of the MPI tests'
# packages against each other MPI found.
lint: $(INSTALL)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(select_mpi); set -x; $(GO) vet -tags "$$tags" ./...
	@$(select_mpi); for other in $(OTHER_MPIS); do \
		pc=$$(echo $$other | cut -d: -f2); tag=$${other##*:}; \
		[ $${other%%:*} = $$mpi ] || ! $(PKG_CONFIG) --exists $$pc || $(GO) vet -tags "$$tag" $(MPI_TEST_PKGS) $(MPI_RUN_PKGS) || exit 1; \
	done

# run: the main job on a built-in input: 2000 synthetic ultrasonic frames (56 x 256)
# enlarged three times between columns by 3 ranks, and the first frame before and after
# as PNG files to look at. See README.md.
run: build
	@mkdir -p $(RUNDIR)
	$(BIN) gen frames --count 2000 --seed 1 -o $(RUNDIR)/frames.pgm
	@$(select_mpi); run="$(MPIRUN)"; \
	if [ -z "$$run" ]; then case $$mpi in \
		openmpi) run=$$(command -v mpirun.openmpi || echo mpirun);; \
		mpich) run=$$(command -v mpiexec.mpich || echo mpiexec);; \
		*) run=mpiexec;; esac; fi; \
	set -x; $$run -np $(NP) $(BIN) interp -i $(RUNDIR)/frames.pgm -o $(RUNDIR)/frames-x3.pgm --png $(RUNDIR)/frame
	@echo "wrote $(RUNDIR)/frames-x3.pgm (2000 frames of 168 x 256); look at $(RUNDIR)/frame-in.png and $(RUNDIR)/frame-out.png"

bench: build
	bash scripts/bench/all.sh

clean:
	rm -rf $(BIN) $(RUNDIR)
