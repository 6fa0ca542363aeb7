# Development targets of gcusage. `make ci` is what CI runs.
GO    ?= go
# The modules of go.work: the SDK at the root, the stub and the CLI. A
# pattern stops at a module's edge, so ./... alone would leave two out.
MODS  := ./... ./usagetest/... ./cmd/...
# tools/ and bench/ stay out of the workspace, so that their requirements
# never raise the versions the SDK is tested with: their commands run with
# GOWORK=off. The workspace takes no -modfile, hence staticcheck runs from
# the path that `go tool -n` builds it to.
NOWORK := GOWORK=off $(GO)

.PHONY: generate check-generate vet lint test test-go1.27 test-norace test-browser screenshot test-sdk-js node bench bench-test ci

generate:
	$(GO) generate $(MODS)
	cd bench && $(NOWORK) generate ./...

# Regenerate, then fail on any difference or any new file in the output, so
# that gen/ is never edited by hand and never lags behind api/usage.yaml,
# nor docs/cli.md behind the CLI's command tree, and the report's embedded
# ECharts is the very file its package-lock.json pins (its generator needs
# npm).
GENERATED := gen/ bench/ogenusage/ docs/cli.md cmd/internal/report/lib/
check-generate: generate
	@git diff --exit-code -- $(GENERATED) || { echo "$(GENERATED): stale or edited by hand: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" || { git status --porcelain --untracked-files=all -- $(GENERATED); echo "make generate wrote files that are not committed"; exit 1; }

vet:
	$(GO) vet $(MODS)
	$(GO) vet -tags browser ./cmd/internal/report
	cd bench && $(NOWORK) vet ./...

lint:
	sc=$$($(NOWORK) tool -modfile=tools/go.mod -n staticcheck) && \
	  $$sc $(MODS) && cd bench && GOWORK=off $$sc ./...

test:
	$(GO) test -race $(MODS)

# The same tests on Go 1.27, the other supported release; the go command
# fetches this toolchain from the module proxy. The go lines stay at 1.26.0.
GO127 ?= go1.27.3
test-go1.27:
	GOTOOLCHAIN=$(GO127) $(GO) version
	GOTOOLCHAIN=$(GO127) $(GO) test -race $(MODS)

# What the race detector would distort, so `test` leaves it out: allocation
# counts, the million-row stream at full size, the live heap under a
# hostile server (client/memory_test.go, the CLI's tables), and the report's
# peak RSS over 300,000 rows and its memory against a million client ids,
# and against 20 orgs of 100,000 each.
test-norace:
	$(GO) test -count=1 -run 'TestDecodeRowsAllocations|TestMillionRowsFlatMemory|TestJobsTotalsHoldABoundedHeap|TestSearchCapCountsRowsWithinAPage|TestTableHeapBounded|TestReport300kRowsRSS|TestMillionClientsBounded|TestOrgsBounded' -v ./client ./usagetest ./cmd/gcusage ./cmd/internal/report

# The report in headless Chromium (Debian: apt-get install -y chromium),
# which it needs: without it the test fails and says so. REPORT_SCREENSHOT
# names where its screenshot goes; `make screenshot` refreshes the README's.
test-browser:
	$(GO) test -count=1 -tags browser -run '^TestBrowser$$' -v ./cmd/internal/report

screenshot:
	REPORT_SCREENSHOT=$(CURDIR)/docs/img/report.png $(MAKE) test-browser

# Genesys' JavaScript SDK, unmodified, against the stub built from this
# checkout (usagetest/compat/js): every usage operation, and the values it
# parsed compared with the stub's own rows. npm ci runs only when the lock
# file changed since the last install, from npm's cache when it holds the
# packages.
JS := usagetest/compat/js
test-sdk-js: node $(JS)/node_modules/.package-lock.json
	cd $(JS) && GO="$(GO)" node --test sdk.test.mjs

$(JS)/node_modules/.package-lock.json: $(JS)/package.json $(JS)/package-lock.json | node
	cd $(JS) && npm ci --prefer-offline --no-audit --no-fund

# A machine without Node.js fails here, saying so, rather than passing.
node:
	@command -v node >/dev/null && command -v npm >/dev/null && node -e 'process.exit(parseInt(process.versions.node) < 18 ? 1 : 0)' || \
	  { echo "make test-sdk-js needs Node.js 18 or later and npm, which this machine lacks (Debian: apt-get install -y nodejs npm)"; exit 1; }

# Every table of docs/performance.md: the polling and fan-out tables (virtual time) and
# the root's connection and token tests, verbose so that their figures
# print, then the side-by-side suite (gcusage, ogen and a hand-rolled client
# against the same stub) and benchstat's tables with gcusage as the baseline
# column. The raw benchmark results stay in bench/bench.out.
COUNT ?= 6
bench:
	cd bench && $(NOWORK) test -count=1 -run='^(TestPollingEfficiency|TestFanOutRounds)$$' -v .
	$(GO) test -count=1 -run='^(TestLoopbackReusesTokenAndConnection|TestHundredConcurrentQueriesFetchOneToken)$$' -v .
	cd bench && bash -o pipefail -c "$(NOWORK) test -run='^$$' -bench=. -benchmem -count=$(COUNT) -timeout=60m . | tee bench.out"
	cd bench && $(NOWORK) tool benchstat -col /client bench.out

# What CI runs of the bench module: its tests in short mode, and every
# benchmark once on a tiny time budget so that they keep compiling and
# working, never the long timed runs.
bench-test:
	cd bench && $(NOWORK) test -race -short . && $(NOWORK) test -run='^$$' -bench=. -benchtime=1x -short .

ci: check-generate vet lint test test-go1.27 test-norace bench-test test-browser test-sdk-js
