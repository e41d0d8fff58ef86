package sim

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// wantHeaders checks one budget's headers of an answer.
func wantHeaders(t *testing.T, h http.Header, kind, limit, remaining, reset string) {
	t.Helper()
	got := [3]string{h.Get("x-ratelimit-limit-" + kind), h.Get("x-ratelimit-remaining-" + kind), h.Get("x-ratelimit-reset-" + kind)}
	if want := [3]string{limit, remaining, reset}; got != want {
		t.Errorf("%s headers: got limit/remaining/reset %q, want %q", kind, got, want)
	}
}

// A server with Headers reports each budget on the per-minute scale, as of
// the request's admission: the limit, the limit less what the bucket has
// spent, and when the bucket is whole again; refusals carry them too.
func TestServerHeadersReportTheTokenBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 600, TPM: 6000, Headers: true})
		ctx := context.Background()
		h, err := srv.Respond(ctx, Request{ID: 0, Tokens: 50})
		if err != nil {
			t.Fatal(err)
		}
		wantHeaders(t, h, "requests", "600", "599", "100ms")
		wantHeaders(t, h, "tokens", "6000", "5950", "500ms")
		for i := 1; i < 10; i++ {
			if _, err := srv.Respond(ctx, Request{ID: i, Tokens: 1}); err != nil {
				t.Fatal(err)
			}
		}
		h, err = srv.Respond(ctx, Request{ID: 10, Tokens: 1})
		if _, ok := asRateLimited(err); !ok {
			t.Fatalf("eleventh call in an instant: %v, want a 429", err)
		}
		wantHeaders(t, h, "requests", "600", "590", "1s")
		time.Sleep(250 * time.Millisecond)
		h, err = srv.Respond(ctx, Request{ID: 11, Tokens: 1})
		if err != nil {
			t.Fatal(err)
		}
		wantHeaders(t, h, "requests", "600", "591", "850ms") // 2.5 refilled, 1 taken
	})
}

func TestServerHeadersReportTheFixedSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 120, Window: FixedSecond, Headers: true})
		ctx := context.Background()
		time.Sleep(1250 * time.Millisecond)
		h, err := srv.Respond(ctx, Request{ID: 0})
		if err != nil {
			t.Fatal(err)
		}
		wantHeaders(t, h, "requests", "120", "119", "750ms")
		if h.Get("x-ratelimit-limit-tokens") != "" {
			t.Errorf("token headers without a token limit: %v", h)
		}
	})
}

func TestServerSendsNoHeadersUnlessAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := NewServer(ServerConfig{RPM: 600})
		h, err := srv.Respond(context.Background(), Request{})
		if err != nil || h != nil {
			t.Errorf("got headers %v and error %v, want neither", h, err)
		}
	})
}
