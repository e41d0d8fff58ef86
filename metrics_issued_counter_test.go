package ratellmiter_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/metrics"
)

// A ticket issued as its waiter gave up goes back unused, and Stats no
// longer counts it issued. A scrape may have seen it issued in between:
// the issued counter stays where it was rather than going down, which
// Prometheus would read as a reset of the counter.
func TestTheIssuedCounterDoesNotGoDownWhenATicketIsGivenBack(t *testing.T) {
	synctest.Test(t, testIssuedCounterGivenBack)
}

func testIssuedCounterGivenBack(t *testing.T) {
	m := ratellmiter.NewMonitor()
	defer m.Stop()
	c := metrics.NewCollector(m)
	l, err := ratellmiter.NewBucketRateLimiter(600, ratellmiter.WithMonitor(m), ratellmiter.WithName("a"))
	if err != nil {
		t.Fatal(err)
	}
	var tks []*ratellmiter.Ticket
	for range 2 {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tks = append(tks, tk)
	}
	issued := func(want string) {
		t.Helper()
		err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP ratellmiter_tickets_issued_total Times a ticket was issued, re-issues after rate limits included.
# TYPE ratellmiter_tickets_issued_total counter
ratellmiter_tickets_issued_total{limiter="a"} `+want+"\n"), "ratellmiter_tickets_issued_total")
		if err != nil {
			t.Error(err)
		}
	}
	issued("2")
	ratellmiter.GiveBack(tks[1])
	if st := l.Stats(); st.Issued != 1 {
		t.Fatalf("Stats().Issued = %d after a ticket was given back, want 1", st.Issued)
	}
	issued("2")
	tks[0].Done()
	for range 2 {
		tk, err := l.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		tk.Done()
	}
	issued("3")
}
