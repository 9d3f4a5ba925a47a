package scenarios

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Visible makes text that came from a target (header values, URLs, console
// sentences) safe to show inside corscheck's own text, in every output: the
// terminal, Ginkgo messages, JUnit, Markdown and HTML. C0 and C1 control
// characters (escape sequences) and Unicode bidirectional controls (which
// reorder the text after them, e.g. U+202E) are shown as visible escapes
// (\x1b, \u202e) instead of acting. Invalid UTF-8 is shown byte by byte.
// Tabs and newlines are kept when keepLines is set by VisibleLines.
func Visible(s string) string { return visible(s, false) }

// VisibleLines is Visible that keeps newlines and tabs, for multi-line
// blocks such as header dumps.
func VisibleLines(s string) string { return visible(s, true) }

func visible(s string, keepLines bool) string {
	clean := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if needsEscape(r, size, keepLines) {
			clean = false
			break
		}
		i += size
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case needsEscape(r, size, keepLines) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r, size, keepLines):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune, size int, keepLines bool) bool {
	if r == utf8.RuneError && size == 1 {
		return true
	}
	if keepLines && (r == '\n' || r == '\t') {
		return false
	}
	return r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || isBidiControl(r)
}

// isBidiControl reports the Unicode bidirectional formatting characters:
// embeddings and overrides (U+202A-U+202E), isolates (U+2066-U+2069), the
// marks U+200E/U+200F and U+061C.
func isBidiControl(r rune) bool {
	return r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f || r == 0x061c
}
