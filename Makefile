# ovsmesh — see README.md. Every target works on a fresh Debian machine as root.
SHELL := /bin/bash
GO    ?= go
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin
# The one place the version lives: `ovsmesh version` and the package carry it.
VERSION := $(shell cat VERSION)
LDFLAGS := -X github.com/ovsmesh/ovsmesh/internal/cli.version=$(VERSION)

.PHONY: all build deb deps test test-short bench fuzz demo demo-fleet bench-fleet bench-failover bench-networks bench-bfd demo-down lab-clean clean docs tidy-check

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ovsmesh ./cmd/ovsmesh
	$(GO) build -o bin/ovsmesh-lab ./cmd/ovsmesh-lab

# bin/ovsmesh_<version>-<revision>_<arch>.deb, with dpkg-deb (scripts/deb.sh).
deb:
	@GO=$(GO) bash scripts/deb.sh

deps:
	@bash scripts/deps.sh

# The whole suite: unit tests everywhere; as root also the OVS, netlink and
# end-to-end lab tests (outside CI they skip with a reason when not root).
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 60m ./...

# Unit tests only: no root, no OVS.
test-short:
	$(GO) test -short ./...

# Planning, one host of an N-host mesh, then the failover of every mode (about
# 10 minutes, root).
bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./topology/
	$(GO) build -o bin/ovsmesh-bench ./cmd/ovsmesh-bench
	@bash scripts/bench.sh
	$(MAKE) bench-failover
	$(MAKE) bench-networks

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzCompile -fuzztime 60s ./topology/

demo: deps build
	@bash scripts/demo.sh

# Fleet mode: 1000 simulated members beside 3 real lab hosts, against the file mode
# in the same run (root, etcd, about a minute): markdown tables (docs/fleet.md).
bench-fleet: deps
	@bash scripts/bench-fleet.sh

# Failover outage of every mode in one run, on real Open vSwitch in the lab (root,
# about 6 minutes): prints a markdown table (docs/failover-bench.md).
# A Docker network added to the file until containers on two hosts ping on it,
# against docker run on docker0 in the same run (real Docker lab, about 3 minutes).
bench-networks: deps
	$(GO) test -count=1 -timeout 30m -run '^$$' -bench BenchmarkNetworkAdded -benchtime 3x ./e2e/

bench-failover: deps
	$(GO) test -count=1 -timeout 30m -run '^$$' -bench BenchmarkFailover -benchtime 1x ./e2e/

# What BFD costs ovs-vswitchd at 10, 100 and 1000 peers, in the lab (about 20
# minutes; BFD_QUICK=1 runs 10 and 100 only). Tables on stdout; docs/bfd-cost.md.
bench-bfd: deps build
	@bash scripts/bench-bfd.sh

# The demo in fleet mode: etcd in the lab, every host applies from it.
demo-fleet: deps build
	@bash scripts/demo.sh fleet

demo-down:
	@bash scripts/demo.sh down

# The command reference in docs/cli, generated from the command definitions
# (a test fails when it is stale).
docs:
	$(GO) run ./cmd/ovsmesh-docs docs/cli

# go.mod and go.sum must be what `go mod tidy` makes of them.
tidy-check:
	$(GO) mod tidy -diff

# Remove namespaces and daemons left by an interrupted test or demo.
lab-clean: build
	bin/ovsmesh-lab sweep

clean:
	rm -rf bin
