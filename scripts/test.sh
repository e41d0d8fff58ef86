#!/usr/bin/env bash
# Runs every check and test of ratellmiter: formatting, go vet, staticcheck,
# the race-enabled test suite (with a real redis-server on loopback), and a
# short run of every fuzz target. Installs what it needs when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
FUZZTIME=${FUZZTIME:-5s}

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-clean:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck $STATICCHECK_VERSION"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...

step "redis-server"
if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
	elif command -v sudo >/dev/null 2>&1; then
		(sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
	fi
fi
if command -v redis-server >/dev/null 2>&1; then
	redis-server --version
else
	echo "redis-server is missing and could not be installed: install it (apt-get install redis-server) and run again"; exit 1
fi

step "go test -race"
go test -race -shuffle=on -count=1 -timeout 15m ./...

# Examples that need a provider's own SDK (google.golang.org/genai, the
# cloud packages of openai-go and anthropic-sdk-go) are modules of their own,
# so that those SDKs and their dependencies stay out of the library's go.mod;
# gofmt above covers their files.
for mod in $(git ls-files 'examples/*/go.mod'); do
	dir=$(dirname "$mod")
	step "$dir: go vet, staticcheck, go test -race"
	(cd "$dir" &&
		go vet ./... &&
		go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./... &&
		go test -race -count=1 ./...)
done

# fuzz runs one target and prints what went wrong when it fails.
fuzz() {
	local out
	if ! out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "$1" 2>&1); then
		echo "$out" | grep -v '^fuzz: elapsed' | tail -40
		return 1
	fi
}

step "fuzz ($FUZZTIME each)"
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "$pkg $target"
		fuzz "$pkg" "$target" && continue
		# An input that fails is saved under testdata/fuzz: that is a bug.
		# Without one, the fuzzing engine itself failed (a worker lost on
		# a loaded machine): run the target once more.
		if [ -n "$(git status --porcelain -- "$dir/testdata/fuzz")" ]; then
			echo "failing input saved under $dir/testdata/fuzz"
			exit 1
		fi
		echo "no failing input saved; running $target again"
		fuzz "$pkg" "$target"
	done
done

step "all checks passed"
