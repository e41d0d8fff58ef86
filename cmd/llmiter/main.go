// Command llmiter works with the per-minute logs of ratellmiter limiters.
//
// Its default subcommand, graph, draws one limiter's requests per second
// from a log file as a PNG or SVG chart, or the finished requests of every
// limiter of the file on one chart. Run "llmiter -h" for every flag.
package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// subcommands maps a subcommand's name to the function that runs it with
// the arguments that follow the name and the streams to write to, and
// returns the exit status. Files of this package add theirs from an init
// function.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{}

// subcommandSummaries holds the one-line description shown for a
// subcommand in the usage text; a subcommand without one is listed by name.
var subcommandSummaries = map[string]string{}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs llmiter with the arguments after the program name and returns
// the exit status: graph when the first argument is a flag or there is
// none, otherwise the subcommand it names.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runGraph(args, stdout, stderr)
	}
	name, rest := args[0], args[1:]
	if name == "help" {
		if len(rest) > 0 && !slices.Contains([]string{"help", "-h", "-help", "--help"}, rest[0]) {
			cmd, ok := subcommands[rest[0]]
			if !ok {
				return unknownSubcommand(rest[0], stderr)
			}
			return cmd([]string{"-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	cmd, ok := subcommands[name]
	if !ok {
		return unknownSubcommand(name, stderr)
	}
	return cmd(rest, stdout, stderr)
}

// unknownSubcommand reports a subcommand that does not exist and returns
// the exit status of a bad command line.
func unknownSubcommand(name string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "llmiter: unknown subcommand %q; subcommands: %s (llmiter -h for help)\n",
		name, strings.Join(subcommandNames(), ", "))
	return 2
}

// subcommandNames returns the registered subcommands, sorted.
func subcommandNames() []string {
	names := make([]string, 0, len(subcommands))
	for name := range subcommands {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// usage writes the help text of llmiter.
func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  llmiter [graph] [flags]      draw a chart of a ratellmiter minute log
  llmiter SUBCOMMAND [args]    run another subcommand
  llmiter help [SUBCOMMAND]    show this text, or a subcommand's help

Subcommands:
`)
	for _, name := range subcommandNames() {
		if s := subcommandSummaries[name]; s != "" {
			fmt.Fprintf(w, "  %-10s %s\n", name, s)
		} else {
			fmt.Fprintf(w, "  %s\n", name)
		}
	}
	fmt.Fprint(w, graphUsage)
}
