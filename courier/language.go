package courier

import (
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

// Languages are the languages the built-in templates are written in, as
// BCP 47 tags. The first is the fallback.
var Languages = []string{"en", "de", "fr", "it", "nl", "pt-BR", "zh", "bn", "pl"}

var (
	supportedTags = func() []language.Tag {
		tags := make([]language.Tag, len(Languages))
		for i, l := range Languages {
			tags[i] = language.MustParse(l)
		}
		return tags
	}()
	matcher = language.NewMatcher(supportedTags)
)

// Language picks the language of a message: the first of the X-Language
// header, the Accept-Language header and the identity's stored locale that
// matches a supported language, else "en". Each argument may be empty or
// malformed; malformed values are skipped, so Language never fails. The
// result is one of Languages.
func Language(xLanguage, acceptLanguage, identityLocale string) string {
	for _, v := range []string{xLanguage, acceptLanguage, identityLocale} {
		if l, ok := match(v); ok {
			return l
		}
	}
	return Languages[0]
}

// match returns the supported language that best fits an Accept-Language
// style value, if any fits.
func match(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 512 {
		return "", false
	}
	// Underscores are common in stored locales ("pt_BR").
	v = strings.ReplaceAll(v, "_", "-")
	tags := parseAccept(v)
	if len(tags) == 0 {
		return "", false
	}
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return "", false
	}
	return Languages[idx], true
}

// parseAccept parses an Accept-Language style list, skipping entries that
// are malformed or name unknown languages (language.ParseAcceptLanguage
// gives up on the whole list for one of them), ordered by quality.
func parseAccept(v string) []language.Tag {
	type entry struct {
		tag language.Tag
		q   float64
	}
	var entries []entry
	for i, part := range strings.Split(v, ",") {
		if i >= 16 {
			break
		}
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if name == "" || name == "*" {
			continue
		}
		q := 1.0
		if p := strings.TrimSpace(params); p != "" {
			qs, ok := strings.CutPrefix(p, "q=")
			if !ok {
				continue
			}
			f, err := strconv.ParseFloat(qs, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q == 0 {
			continue
		}
		tag, err := language.Parse(name)
		if err != nil {
			continue
		}
		entries = append(entries, entry{tag, q})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].q > entries[j].q })
	tags := make([]language.Tag, len(entries))
	for i, e := range entries {
		tags[i] = e.tag
	}
	return tags
}

// normalizeLanguage maps any value to one of Languages, falling back to "en".
func normalizeLanguage(v string) string {
	if l, ok := match(v); ok {
		return l
	}
	return Languages[0]
}
