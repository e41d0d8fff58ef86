package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/ratellmiter/ratellmiter"
	"github.com/ratellmiter/ratellmiter/internal/signals"
	"github.com/ratellmiter/ratellmiter/internal/sim"
)

// demoClient is one of the ways demo can send its workload.
type demoClient struct {
	key   string // its name in -clients and in its chart's file name
	label string // its name in the table and the progress lines
	// paced clients are configured at -limiter-rpm and get the longer cap.
	paced bool
	// start prepares a run: it returns the call that sends request i,
	// and, if the client has more to report once the run is over, a
	// function that adds it to the run's result.
	start func(r *demoRun) (demoCall, func(res *demoResult) error, error)
}

// demoCall sends request i of the workload, retrying as its client does,
// and returns nil once it succeeded.
type demoCall func(ctx context.Context, i int) error

// demoRun is what a client's start gets.
type demoRun struct {
	o       *demoOptions
	url     string            // the chat completions endpoint
	baseURL string            // the server's root, for an SDK
	rt      http.RoundTripper // counts the requests on the wire
	seen429 *atomic.Int64     // 429s that reached the calling code
}

// demoClients are the clients demo knows, in the order it runs them.
var demoClients = []demoClient{
	{key: "naive", label: "naive backoff", start: startNaive},
	{key: "openai-go", label: "openai-go retries", start: startOpenAI},
	{key: "x-time-rate", label: "x/time/rate", paced: true,
		start: startPolicy(func(rpm int) sim.Client { return sim.NewXRate(rpm) })},
	{key: "python", label: "python model", paced: true,
		start: startPolicy(func(rpm int) sim.Client { return sim.NewPythonOriginal(rpm) })},
	{key: demoLimiterName, label: demoLimiterName, paced: true, start: startRatellmiter},
}

// defaultDemoClients is the -clients default: the demo's point, in about
// a minute and a half.
const defaultDemoClients = "naive,ratellmiter"

// parseDemoClients returns the clients a -clients value names, in demo's
// order; "all" names every one.
func parseDemoClients(v string) ([]demoClient, error) {
	if v == "all" {
		return demoClients, nil
	}
	var keys []string
	for _, k := range strings.Split(v, ",") {
		k = strings.TrimSpace(k)
		if !slices.ContainsFunc(demoClients, func(c demoClient) bool { return c.key == k }) {
			return nil, fmt.Errorf("-clients: unknown client %q; choose from %s, or all", k, demoClientKeys())
		}
		if slices.Contains(keys, k) {
			return nil, fmt.Errorf("-clients: %q given twice", k)
		}
		keys = append(keys, k)
	}
	var cs []demoClient
	for _, c := range demoClients {
		if slices.Contains(keys, c.key) {
			cs = append(cs, c)
		}
	}
	return cs, nil
}

// demoClientKeys lists the names -clients accepts.
func demoClientKeys() string {
	keys := make([]string, len(demoClients))
	for i, c := range demoClients {
		keys[i] = c.key
	}
	return strings.Join(keys, ", ")
}

// startNaive is the retry loop of countless tutorials (naiveCall).
func startNaive(r *demoRun) (demoCall, func(*demoResult) error, error) {
	hc := &http.Client{Transport: r.rt}
	return func(ctx context.Context, i int) error {
		return naiveCall(ctx, hc, r.url, demoBody(i), r.seen429)
	}, nil, nil
}

// startOpenAI sends each request with the official openai-go client and
// its built-in retries, as a program that relies on them does.
func startOpenAI(r *demoRun) (demoCall, func(*demoResult) error, error) {
	client := openai.NewClient(
		option.WithBaseURL(r.baseURL+"/v1/"),
		option.WithAPIKey("demo"),
		option.WithHTTPClient(&http.Client{Transport: r.rt}),
	)
	return func(ctx context.Context, i int) error {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:     demoModel,
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(demoPrompt(i))},
			MaxTokens: openai.Int(demoMaxTokens),
		})
		var apiErr *openai.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			r.seen429.Add(1)
		}
		return err
	}, nil, nil
}

// startPolicy sends each request through a policy of the simulator, the
// same code its comparison runs in virtual time, here in real time over
// HTTP: each 429 is handed to the policy with the server's hint.
func startPolicy(newPolicy func(rpm int) sim.Client) func(*demoRun) (demoCall, func(*demoResult) error, error) {
	return func(r *demoRun) (demoCall, func(*demoResult) error, error) {
		p := newPolicy(r.o.limiterRPM)
		hc := &http.Client{Transport: r.rt}
		return func(ctx context.Context, i int) error {
			return p.Do(ctx, sim.Request{ID: i}, func(ctx context.Context) (http.Header, error) {
				status, h, err := demoPost(ctx, hc, r.url, demoBody(i))
				switch {
				case err != nil:
					return nil, err
				case status == http.StatusTooManyRequests:
					r.seen429.Add(1)
					hint, _ := signals.RetryAfter(h, time.Now())
					return h, &sim.RateLimited{RetryAfter: hint, Reason: sim.ReasonRate}
				case status != http.StatusOK:
					return h, fmt.Errorf("HTTP %d", status)
				}
				return h, nil
			})
		}, nil, nil
	}
}

// startRatellmiter sends each request through an http.Client on
// ratellmiter's Transport, with a limiter at -limiter-rpm that writes its
// minute log under the output folder.
func startRatellmiter(r *demoRun) (demoCall, func(*demoResult) error, error) {
	mon := ratellmiter.NewMonitor(ratellmiter.WithLogDir(demoLogDir(r.o)))
	limiter, err := ratellmiter.NewBucketRateLimiter(r.o.limiterRPM,
		ratellmiter.WithMonitor(mon), ratellmiter.WithName(demoLimiterName))
	if err != nil {
		_ = mon.Stop()
		return nil, nil, err
	}
	tr, err := ratellmiter.NewTransport(r.rt, ratellmiter.WithLimiter(limiter))
	if err != nil {
		_ = mon.Stop()
		return nil, nil, err
	}
	hc := &http.Client{Transport: tr}
	call := func(ctx context.Context, i int) error {
		status, _, err := demoPost(ctx, hc, r.url, demoBody(i))
		if status == http.StatusTooManyRequests {
			r.seen429.Add(1)
		}
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("HTTP %d", status)
		}
		return err
	}
	finish := func(res *demoResult) error {
		st := limiter.Stats()
		res.limiter = &st
		if err := mon.Stop(); err != nil {
			return fmt.Errorf("writing the minute log: %w", err)
		}
		res.logPath = mon.LogPath()
		return nil
	}
	return call, finish, nil
}

// demoPrompt is the prompt of chat completion i.
func demoPrompt(i int) string { return fmt.Sprintf("Summarise document %d in one sentence.", i) }

// demoBody is the JSON body of chat completion i, in OpenAI's shape.
func demoBody(i int) []byte {
	return fmt.Appendf(nil, `{"model":%q,"messages":[{"role":"user","content":%q}],"max_tokens":%d}`,
		demoModel, demoPrompt(i), demoMaxTokens)
}

// demoPost sends one chat completion and returns the HTTP status and the
// response's headers.
func demoPost(ctx context.Context, hc *http.Client, url string, body []byte) (int, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer demo")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, resp.Header, nil
}

// errGaveUp is the naive client's answer after its last attempt.
var errGaveUp = errors.New("still rate limited after the last attempt")

// naiveCall is the retry loop of countless tutorials: on 429, sleep 1, 2,
// 4, 8, 16 s and try again, with no pacing and no shared state between
// callers.
func naiveCall(ctx context.Context, hc *http.Client, url string, body []byte, seen429 *atomic.Int64) error {
	for attempt := range naiveMaxAttempts {
		status, _, err := demoPost(ctx, hc, url, body)
		switch {
		case err != nil:
			return err
		case status == http.StatusOK:
			return nil
		case status != http.StatusTooManyRequests:
			return fmt.Errorf("HTTP %d", status)
		}
		seen429.Add(1)
		if attempt == naiveMaxAttempts-1 {
			break
		}
		t := time.NewTimer(time.Duration(1<<attempt) * time.Second)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return errGaveUp
}
