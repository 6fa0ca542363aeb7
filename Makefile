# Development targets of gcusage. `make ci` is what CI runs.
GO    ?= go
TOOLS := $(GO) tool -modfile=tools/go.mod

.PHONY: generate check-generate vet lint test bench ci

generate:
	$(GO) generate ./...

# Regenerate, then fail on any difference or any new file in the output, so
# that gen/ is never edited by hand and never lags behind api/usage.yaml.
check-generate: generate
	@git diff --exit-code -- gen/ || { echo "gen/ is stale or was edited by hand: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- gen/)" || { git status --porcelain --untracked-files=all -- gen/; echo "make generate wrote files that are not committed"; exit 1; }

vet:
	$(GO) vet ./...

lint:
	$(TOOLS) staticcheck ./...

test:
	$(GO) test -race ./...

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

ci: check-generate vet lint test
