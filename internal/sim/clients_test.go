package sim

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

// attemptTimes runs one request through c against a call that answers 429
// with the given hint until succeedAt attempts were made (0: never), and
// returns the offsets of the attempts and Do's error.
func attemptTimes(c Client, hint time.Duration, succeedAt int) ([]time.Duration, error) {
	start := time.Now()
	var at []time.Duration
	err := c.Do(context.Background(), Request{ID: 1}, func(context.Context) (http.Header, error) {
		at = append(at, time.Since(start))
		if len(at) == succeedAt {
			return nil, nil
		}
		return nil, &RateLimited{RetryAfter: hint, Reason: ReasonRate}
	})
	return at, err
}

func TestNaiveBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at, err := attemptTimes(NewNaive(), time.Minute, 0)
		if _, ok := asRateLimited(err); !ok {
			t.Fatalf("err = %v, want the last 429", err)
		}
		if len(at) != MaxAttempts {
			t.Fatalf("%d attempts, want %d", len(at), MaxAttempts)
		}
		for k := 1; k < len(at); k++ {
			if gap := at[k] - at[k-1]; gap != time.Second<<(k-1) {
				t.Errorf("gap before attempt %d = %v, want %v", k+1, gap, time.Second<<(k-1))
			}
		}
	})
}

func TestFullJitterBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewFullJitter(1)
		at, _ := attemptTimes(c, 0, 0)
		if len(at) != MaxAttempts {
			t.Fatalf("%d attempts, want %d", len(at), MaxAttempts)
		}
		for k := 1; k < len(at); k++ {
			if gap, ceil := at[k]-at[k-1], min(time.Second<<(k-1), time.Minute); gap >= ceil {
				t.Errorf("gap before attempt %d = %v, want below %v", k+1, gap, ceil)
			}
		}
		again, _ := attemptTimes(c, 0, 0)
		for k := range at {
			if again[k]-again[0] != at[k]-at[0] {
				t.Fatalf("jitter differs between runs of the same request")
			}
		}
	})
}

func TestXRateBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A long hint wins over the first backoffs, then the backoff does.
		at, err := attemptTimes(NewXRate(6000), 3500*time.Millisecond, 5)
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Duration{0, 3500 * time.Millisecond, 7 * time.Second, 11 * time.Second, 19 * time.Second}
		for k := range want {
			if at[k] != want[k] {
				t.Errorf("attempt %d at %v, want %v", k+1, at[k], want[k])
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Pacing: 60 RPM spaces requests one second apart.
		c := NewXRate(60)
		start := time.Now()
		for i := range 5 {
			_ = c.Do(context.Background(), Request{ID: i}, func(context.Context) (http.Header, error) { return nil, nil })
		}
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("5 requests at 60 RPM took %v, want 4s", d)
		}
	})
}

func TestClientsPassOtherErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, f := range Peers() {
		synctest.Test(t, func(t *testing.T) {
			c := f.New(Scenario{ClientRPM: 600})
			n := 0
			err := c.Do(context.Background(), Request{}, func(context.Context) (http.Header, error) { n++; return nil, boom })
			if !errors.Is(err, boom) || n != 1 {
				t.Errorf("%s: err %v after %d calls, want boom after 1", f.Name, err, n)
			}
		})
	}
}
