package sim

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Result summarises one run of one client on one scenario.
type Result struct {
	Scenario, Client string
	// Completion is the time from the start of the run until the last
	// request finished (DefaultDeadline or Scenario.Deadline if the run was
	// stopped).
	Completion time.Duration
	// PhysicalMin is the least possible completion time, see PhysicalMin.
	PhysicalMin time.Duration
	// Ratio is Completion / PhysicalMin.
	Ratio float64
	// Requests is the backlog size; Completed succeeded, Failed ended with
	// an error (such as the last 429 after MaxAttempts); the rest were
	// still pending at the deadline.
	Requests, Completed, Failed int
	// Incomplete is set when the deadline stopped the run.
	Incomplete bool
	// RateLimited counts 429 responses; RequestsSeeing429 the requests that
	// received at least one.
	RateLimited       int
	RequestsSeeing429 int
	// Worst1s and Worst60s are the most accepted requests in any 1 s and
	// 60 s window; Limit1s and Limit60s what the server can accept in such
	// windows.
	Worst1s, Worst60s int
	Limit1s, Limit60s int
	WaitP50, WaitP99  time.Duration
	Records           []Record
}

// FormatTable renders results as an aligned text table.
func FormatTable(rs []Result) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "scenario\tclient\ttime\t×min\t429s\treq seeing 429\tworst 1s/limit\tworst 60s/limit\tp50 wait\tp99 wait\tnote\t")
	for _, r := range rs {
		seeing := 0.0
		if r.Requests > 0 {
			seeing = 100 * float64(r.RequestsSeeing429) / float64(r.Requests)
		}
		var notes []string
		if r.Failed > 0 {
			notes = append(notes, fmt.Sprintf("%d failed", r.Failed))
		}
		if r.Incomplete {
			notes = append(notes, fmt.Sprintf("stopped, %d pending", r.Requests-r.Completed-r.Failed))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.2f\t%d\t%.1f%%\t%d/%d\t%d/%d\t%s\t%s\t%s\t\n",
			r.Scenario, r.Client, seconds(r.Completion), r.Ratio, r.RateLimited, seeing,
			r.Worst1s, r.Limit1s, r.Worst60s, r.Limit60s,
			seconds(r.WaitP50), seconds(r.WaitP99), strings.Join(notes, ", "))
	}
	w.Flush()
	return b.String()
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}
