package config

import (
	"strings"
)

// EditDistance returns the Levenshtein distance between a and b, counted in
// bytes (config keys and CLI flags are ASCII). cmd/latchkey uses it to
// suggest a mistyped flag.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// nearest returns the candidate closest to target, or "" when none is close
// enough to be a plausible typo.
func nearest(target string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := EditDistance(target, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(1, len(target)/4) {
		return ""
	}
	return best
}

// suggestKey returns the known key nearest to the unknown key whose pattern
// form is pattern and whose concrete form is concrete, rendered with the
// user's own map names and list indices; "" if nothing is close.
func suggestKey(pattern, concrete string) string {
	cands := append(append([]string{}, knownPaths()...), kratosPaths()...)
	best := nearest(pattern, cands)
	if best == "" {
		return ""
	}
	bs, cs := strings.Split(best, "."), strings.Split(concrete, ".")
	for i, s := range bs {
		if i >= len(cs) {
			break
		}
		switch {
		case s == "*":
			bs[i] = cs[i]
		case strings.HasSuffix(s, "[]") && strings.HasPrefix(cs[i], strings.TrimSuffix(s, "[]")+"["):
			bs[i] = cs[i]
		}
	}
	return strings.ReplaceAll(strings.Join(bs, "."), ".**", "")
}
