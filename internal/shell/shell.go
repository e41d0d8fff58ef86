// Package shell writes words for a POSIX shell's command line, for the
// commands the programs print for their users to paste.
package shell

import "strings"

// Word returns s as one word of a POSIX shell's command line: as it is
// when it holds nothing the shell reads otherwise, else in single quotes.
func Word(s string) string {
	safe := s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:=@%", r))
	}) < 0
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
