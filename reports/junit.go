package reports

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// junitCounts are a testsuites or testsuite element's totals.
type junitCounts struct {
	tests, failures, errors, skipped int
	ms                               float64
}

func (n *junitCounts) add(c CaseResult) {
	n.tests++
	n.ms += c.Observed.DurationMs
	switch c.Verdict {
	case scenarios.Fail:
		n.failures++
	case scenarios.Error:
		n.errors++
	case scenarios.Skipped:
		n.skipped++
	}
}

// attrs are the counts as attributes. Jenkins' xunit junit-10.xsd allows
// no skipped attribute on testsuites (only on testsuite).
func (n junitCounts) attrs(name string, skipped bool, time string) []xml.Attr {
	a := []xml.Attr{attr("name", name), attr("tests", strconv.Itoa(n.tests)),
		attr("failures", strconv.Itoa(n.failures)), attr("errors", strconv.Itoa(n.errors))}
	if skipped {
		a = append(a, attr("skipped", strconv.Itoa(n.skipped)))
	}
	return append(a, attr("time", time))
}

func attr(name, value string) xml.Attr { return xml.Attr{Name: xml.Name{Local: name}, Value: value} }

func element(name string, attrs ...xml.Attr) xml.StartElement {
	return xml.StartElement{Name: xml.Name{Local: name}, Attr: attrs}
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// JUnit renders junit.xml: one testsuite per family, one testcase per case
// (name and classname always set), <failure> for fail and <error> for error,
// in the shape Jenkins, GitLab and GitHub reporters read.
func (r *Results) JUnit() ([]byte, error) {
	var b bytes.Buffer
	err := r.Display().writeJUnit(&b)
	return b.Bytes(), err
}

// writeJUnit streams r (already displayed) as junit.xml: the totals first,
// then each case as it is encoded, so a run of 40,000 cases is never held
// a second time as XML.
func (r *Results) writeJUnit(w io.Writer) error {
	type family struct {
		name  string
		n     junitCounts
		cases []int
	}
	var fams []*family
	index := map[string]*family{}
	var all junitCounts
	for i, c := range r.Cases {
		f := index[c.Family]
		if f == nil {
			f = &family{name: "corscheck." + c.Family}
			index[c.Family] = f
			fams = append(fams, f)
		}
		f.n.add(c)
		all.add(c)
		f.cases = append(f.cases, i)
	}
	var props []junitProperty
	for _, p := range []junitProperty{{"target", r.Target}, {"browser", r.Browser}} {
		if p.Value != "" {
			props = append(props, p) // no empty attributes
		}
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	root := element("testsuites", all.attrs("corscheck", false, seconds(r.DurationMs))...)
	if err := enc.EncodeToken(root); err != nil {
		return err
	}
	for _, f := range fams {
		suite := element("testsuite", f.n.attrs(f.name, true, seconds(f.n.ms))...)
		if r.StartedAt != "" {
			suite.Attr = append(suite.Attr, attr("timestamp", r.StartedAt))
		}
		if err := enc.EncodeToken(suite); err != nil {
			return err
		}
		if len(props) > 0 {
			if err := enc.EncodeElement(struct {
				Property []junitProperty `xml:"property"`
			}{props}, element("properties")); err != nil {
				return err
			}
		}
		for _, i := range f.cases {
			if err := enc.EncodeElement(junitCaseOf(r.Cases[i]), element("testcase")); err != nil {
				return err
			}
		}
		if err := enc.EncodeToken(suite.End()); err != nil {
			return err
		}
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitCaseOf is one case as a testcase element.
func junitCaseOf(c CaseResult) junitCase {
	tc := junitCase{Name: c.ID + ": " + c.Title, Classname: "corscheck." + c.Family, Time: seconds(c.Observed.DurationMs)}
	switch c.Verdict {
	case scenarios.Fail:
		tc.Failure = &junitProblem{Message: c.Message, Type: string(c.Observed.CorsError), Text: problemText(c)}
	case scenarios.Error:
		tc.Error = &junitProblem{Message: c.Message, Type: string(c.Observed.ErrorKind), Text: problemText(c)}
	case scenarios.Skipped:
		tc.Skipped = &junitSkipped{Message: c.Message}
	default:
		tc.SystemOut = c.Message
	}
	return tc
}

func problemText(c CaseResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", c.Message)
	fmt.Fprintf(&b, "expected: %s, observed: %s\n", c.Expected.Outcome, c.Observed.Outcome)
	if c.Observed.CorsError != "" {
		fmt.Fprintf(&b, "Chrome: %s %s\n", c.Observed.CorsError, c.Observed.FailedParameter)
	}
	if c.Observed.ConsoleMessage != "" {
		fmt.Fprintf(&b, "console: %s\n", c.Observed.ConsoleMessage)
	}
	if c.Header != "" {
		fmt.Fprintf(&b, "header at fault: %s\n", c.Header)
	}
	if c.Fix != "" {
		fmt.Fprintf(&b, "fix: %s\n", c.Fix)
	}
	return b.String()
}

func seconds(ms float64) string { return fmt.Sprintf("%.3f", ms/1000) }
