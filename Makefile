# mw: build, test, run and benchmark. `make run` and `make test` install what they need
# (Debian's OpenMPI and friends) on a fresh machine as root.

# Go as this machine kind installs it, when it is not on the PATH already.
export PATH := $(PATH):/usr/local/go/bin
GO       ?= go
MPIRUN   ?= mpirun
NP       ?= 3
# Root may run mpirun here (CI runs as root); more ranks than cores are allowed.
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN      := ./mw
RUNDIR   := run
DEB_PKGS := openmpi-bin libopenmpi-dev pkg-config parallel slurmctld slurmd slurm-client munge openssh-server openssh-client iproute2

.PHONY: deps build test unit mpitest fuzz run bench lint clean

# deps installs Debian's packages only when one is missing (idempotent, quiet). A
# temporary policy-rc.d keeps the installs from starting system services (sshd, slurm,
# munge): the tests start their own, by hand.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		rc=/usr/sbin/policy-rc.d; own=0; \
		if [ ! -e $$rc ]; then printf '#!/bin/sh\nexit 101\n' > $$rc && chmod +x $$rc && own=1; fi; \
		apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		status=$$?; [ $$own = 1 ] && rm -f $$rc; exit $$status; \
	fi

build: deps
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

# test: unit tests with the race detector, real mpirun runs, and a short fuzz of every parser.
test: build lint
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

# A failed target runs once more: Go 1.26's fuzz coordinator may fail a target with a bare
# "context deadline exceeded" as -fuzztime ends (golang/go#75804, fixed in Go 1.27), while
# a real crasher is saved under testdata and fails again.
FUZZTIME ?= 5s
fuzz:
	@for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
		pkg=$$(dirname $$f); \
		for t in $$(grep -h '^func Fuzz' $$f | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/mw-fuzz.log 2>&1 || { \
				tail -20 /tmp/mw-fuzz.log; \
				echo "fuzz $$pkg $$t failed; once more (a crasher saved under testdata fails again)"; \
				$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/mw-fuzz.log 2>&1 || { tail -40 /tmp/mw-fuzz.log; exit 1; }; }; \
		done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# run: the main job on a built-in input: 2000 synthetic ultrasonic frames (56 x 256)
# enlarged three times between columns by 3 ranks, and the first frame before and after
# as PNG files to look at. See README.md.
run: build
	@mkdir -p $(RUNDIR)
	$(BIN) gen frames --count 2000 --seed 1 -o $(RUNDIR)/frames.pgm
	$(MPIRUN) -np $(NP) $(BIN) interp -i $(RUNDIR)/frames.pgm -o $(RUNDIR)/frames-x3.pgm --png $(RUNDIR)/frame
	@echo "wrote $(RUNDIR)/frames-x3.pgm (2000 frames of 168 x 256); look at $(RUNDIR)/frame-in.png and $(RUNDIR)/frame-out.png"

bench: build
	bash scripts/bench/all.sh

clean:
	rm -rf $(BIN) $(RUNDIR)
