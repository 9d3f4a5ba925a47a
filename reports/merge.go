package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Merge combines the results of the shards of one run (--shard K/N) into
// the results an unsharded run would have written: the cases of every
// shard, then the summary, the stack and the findings derived again from
// all of them. The shards must be of the same target, policy, browser and
// shard count, each shard exactly once.
func Merge(parts []*Results, names []string) (*Results, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("nothing to merge: give the --out directories (or results.json files) of every shard")
	}
	first := parts[0]
	policy := func(r *Results) []byte { b, _ := json.Marshal(r.Policy); return b }
	count := 0
	if first.Shard != nil {
		count = first.Shard.Count
	}
	have := map[int]string{}
	for i, p := range parts {
		switch {
		case p.Shard == nil && len(parts) > 1:
			return nil, fmt.Errorf("%s is not a shard (no --shard K/N): merge combines the shards of one run", names[i])
		case p.Shard != nil && p.Shard.Count != count:
			return nil, fmt.Errorf("%s is shard %s but %s is of %d shards: merge the shards of one run", names[i], p.Shard, names[0], count)
		case p.Fixture != first.Fixture:
			return nil, fmt.Errorf("%s tested the built-in %q, %s tested %q: merge the shards of one run", names[i], p.Fixture, names[0], first.Fixture)
		case p.Target != first.Target && p.Fixture == "":
			return nil, fmt.Errorf("%s tested %s, %s tested %s: merge the shards of one run", names[i], p.Target, names[0], first.Target)
		case !bytes.Equal(policy(p), policy(first)):
			return nil, fmt.Errorf("%s was run with another policy than %s: merge the shards of one run", names[i], names[0])
		case p.Browser != first.Browser:
			return nil, fmt.Errorf("%s ran in %s, %s in %s: merge the shards of one browser's run (compat compares browsers)", names[i], p.Browser, names[0], first.Browser)
		}
		if p.Shard != nil {
			if prev, dup := have[p.Shard.Index]; dup {
				return nil, fmt.Errorf("shard %s is given twice (%s and %s)", p.Shard, prev, names[i])
			}
			have[p.Shard.Index] = names[i]
		}
	}
	var missing []string
	for k := 1; k <= count; k++ {
		if _, ok := have[k]; !ok {
			missing = append(missing, fmt.Sprintf("%d/%d", k, count))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("shard %s missing: give every shard's output (a merged run with a shard missing would pass on cases it never ran)", strings.Join(missing, ", "))
	}
	out := &Results{
		Tool: first.Tool, Browser: first.Browser, Target: first.Target, Fixture: first.Fixture, Policy: first.Policy,
		Insecure: first.Insecure, ChromeArgs: first.ChromeArgs, Resolve: first.Resolve, Routes: first.Routes,
	}
	seen := map[string]string{}
	var start time.Time
	for i, p := range parts {
		if t, err := time.Parse(time.RFC3339, p.StartedAt); err == nil && (start.IsZero() || t.Before(start)) {
			start = t
		}
		// Shards run side by side: the merged run took as long as the longest.
		out.DurationMs = max(out.DurationMs, p.DurationMs)
		out.Interrupted = out.Interrupted || p.Interrupted
		if p.Stack != "" && p.StackEvidence == "" {
			out.Stack = p.Stack // given with --stack: keep it
		}
		for _, c := range p.Cases {
			if prev, dup := seen[c.ID]; dup {
				return nil, fmt.Errorf("case %s is in %s and %s: shards do not overlap, so these are not shards of one run", c.ID, prev, names[i])
			}
			seen[c.ID] = names[i]
			out.Cases = append(out.Cases, c)
		}
	}
	if !start.IsZero() {
		out.StartedAt = start.UTC().Format(time.RFC3339)
	}
	out.Credentials, out.Cookies = mergeCredentials(parts), mergeCookies(parts)
	sort.SliceStable(out.Cases, func(i, j int) bool { return out.Cases[i].ID < out.Cases[j].ID })
	out.Finish()
	return out, nil
}

// byEngine adds up the shards' per-browser entries: the first shard's
// entry for an engine, with each later one's added by add.
func byEngine[T any](parts []*Results, list func(*Results) []T, engine func(T) string, add func(*T, T)) []T {
	var out []T
	at := map[string]int{}
	for _, p := range parts {
		for _, x := range list(p) {
			if i, ok := at[engine(x)]; ok {
				add(&out[i], x)
				continue
			}
			at[engine(x)] = len(out)
			out = append(out, x)
		}
	}
	return out
}

// mergeCredentials adds up the shards' per-browser credential counts.
func mergeCredentials(parts []*Results) []CredentialUse {
	return byEngine(parts, func(r *Results) []CredentialUse { return r.Credentials }, func(u CredentialUse) string { return u.Engine },
		func(m *CredentialUse, u CredentialUse) {
			m.Requests += u.Requests
			if m.CookieSent >= 0 && u.CookieSent >= 0 {
				m.CookieSent += u.CookieSent
			}
			m.Withheld = cmp.Or(m.Withheld, u.Withheld)
		})
}

// mergeCookies adds up the shards' per-browser cookie travel.
func mergeCookies(parts []*Results) []CookieTravel {
	out := byEngine(parts, func(r *Results) []CookieTravel { return r.Cookies }, func(t CookieTravel) string { return t.Engine },
		func(m *CookieTravel, t CookieTravel) {
			m.CrossSite += t.CrossSite
			m.Sent += t.Sent
			m.Withheld = cmp.Or(m.Withheld, t.Withheld)
		})
	for i := range out {
		out[i].Works = out[i].Sent == out[i].CrossSite
		if out[i].Works {
			out[i].Withheld = ""
		}
	}
	return out
}
