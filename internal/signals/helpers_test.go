package signals

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fixtureDir holds the provider samples shared with other packages.
const fixtureDir = "../../testdata/signals"

// testNow is the fixed clock used throughout the tests. The Anthropic
// fixtures carry reset timestamps a few seconds after it.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture returns the contents of a file in fixtureDir.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	require.NoError(t, err, "reading fixture %s", name)
	return b
}

// headerFixture loads a "Name: value" per line file into an http.Header.
// Blank lines and lines starting with '#' are skipped.
func headerFixture(t testing.TB, name string) http.Header {
	t.Helper()
	h := http.Header{}
	sc := bufio.NewScanner(bytes.NewReader(fixture(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		require.True(t, ok, "fixture %s: malformed line %q", name, line)
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	require.NoError(t, sc.Err())
	return h
}

// hdr builds an http.Header from alternating names and values.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}
