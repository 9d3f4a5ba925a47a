package reports

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/corscheck/corscheck/scenarios"
)

// junitSuites is the root element. Jenkins' xunit junit-10.xsd allows no
// skipped attribute here (only on testsuite), so it has none.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
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
func (r *Results) JUnit() ([]byte, error) { return r.Display().junit() }

// junit renders r as it is (already displayed).
func (r *Results) junit() ([]byte, error) {
	doc := junitSuites{Name: "corscheck", Time: seconds(r.DurationMs)}
	index := map[string]int{}
	var suiteMs []float64
	for _, c := range r.Cases {
		i, ok := index[c.Family]
		if !ok {
			i = len(doc.Suites)
			index[c.Family] = i
			var props []junitProperty
			for _, p := range []junitProperty{{"target", r.Target}, {"browser", r.Browser}} {
				if p.Value != "" {
					props = append(props, p) // no empty attributes
				}
			}
			doc.Suites = append(doc.Suites, junitSuite{Name: "corscheck." + c.Family, Timestamp: r.StartedAt, Properties: props})
			suiteMs = append(suiteMs, 0)
		}
		s := &doc.Suites[i]
		tc := junitCase{Name: c.ID + ": " + c.Title, Classname: "corscheck." + c.Family, Time: seconds(c.Observed.DurationMs)}
		detail := problemText(c)
		switch c.Verdict {
		case scenarios.Fail:
			tc.Failure = &junitProblem{Message: c.Message, Type: string(c.Observed.CorsError), Text: detail}
			s.Failures++
		case scenarios.Error:
			tc.Error = &junitProblem{Message: c.Message, Type: string(c.Observed.ErrorKind), Text: detail}
			s.Errors++
		case scenarios.Skipped:
			tc.Skipped = &junitSkipped{Message: c.Message}
			s.Skipped++
		default:
			tc.SystemOut = c.Message
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
		suiteMs[i] += c.Observed.DurationMs
	}
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Time = seconds(suiteMs[i])
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
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
