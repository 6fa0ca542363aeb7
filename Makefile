# Development targets of gcusage. `make ci` is what CI runs.
GO    ?= go
TOOLS := $(GO) tool -modfile=tools/go.mod

.PHONY: generate check-generate vet lint test test-norace bench bench-test ci

generate:
	$(GO) generate ./...
	cd bench && $(GO) generate ./...

# Regenerate, then fail on any difference or any new file in the output, so
# that gen/ is never edited by hand and never lags behind api/usage.yaml.
check-generate: generate
	@git diff --exit-code -- gen/ bench/ogenusage/ || { echo "gen/ or bench/ogenusage/ is stale or was edited by hand: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- gen/ bench/ogenusage/)" || { git status --porcelain --untracked-files=all -- gen/ bench/ogenusage/; echo "make generate wrote files that are not committed"; exit 1; }

vet:
	$(GO) vet ./...
	cd bench && $(GO) vet ./...

lint:
	$(TOOLS) staticcheck ./...
	cd bench && $(GO) tool -modfile=../tools/go.mod staticcheck ./...

test:
	$(GO) test -race ./...

# What the race detector would distort, so `test` leaves it out: allocation
# counts, and the million-row stream at full size.
test-norace:
	$(GO) test -count=1 -run 'TestDecodeRowsAllocations|TestMillionRowsFlatMemory' ./client ./usagetest

# Every table of docs/performance.md: the polling table (virtual time) and
# the root's connection and token tests, verbose so that their figures
# print, then the side-by-side suite (gcusage, ogen and a hand-rolled client
# against the same stub) and benchstat's tables with gcusage as the baseline
# column. The raw benchmark results stay in bench/bench.out.
COUNT ?= 6
bench:
	cd bench && $(GO) test -count=1 -run='^TestPollingEfficiency$$' -v .
	$(GO) test -count=1 -run='^(TestLoopbackReusesTokenAndConnection|TestHundredConcurrentQueriesFetchOneToken)$$' -v .
	cd bench && bash -o pipefail -c "$(GO) test -run='^$$' -bench=. -benchmem -count=$(COUNT) -timeout=60m . | tee bench.out"
	cd bench && $(GO) tool benchstat -col /client bench.out

# What CI runs of the bench module: its tests in short mode, and every
# benchmark once on a tiny time budget so that they keep compiling and
# working, never the long timed runs.
bench-test:
	cd bench && $(GO) test -race -short . && $(GO) test -run='^$$' -bench=. -benchtime=1x -short .

ci: check-generate vet lint test test-norace bench-test
