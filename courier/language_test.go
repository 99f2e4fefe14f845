package courier

import "testing"

func TestLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		xLanguage, accept, locale string
		want                      string
	}{
		{"nothing falls back to en", "", "", "", "en"},
		{"x-language wins", "de", "fr", "it", "de"},
		{"accept-language when no x-language", "", "fr-CH, fr;q=0.9, en;q=0.8", "it", "fr"},
		{"accept-language quality order", "", "xx;q=1, pl;q=0.9, de;q=0.5", "", "pl"},
		{"locale when headers absent", "", "", "nl", "nl"},
		{"locale with underscore", "", "", "pt_BR", "pt-BR"},
		{"plain pt maps to pt-BR", "pt", "", "", "pt-BR"},
		{"simplified chinese", "zh-CN", "", "", "zh"},
		{"bengali from region tag", "bn-IN", "", "", "bn"},
		{"unsupported x-language falls through to accept", "ja", "it", "", "it"},
		{"unsupported everywhere", "ja", "ko", "sw", "en"},
		{"malformed values are skipped", "!!!", "en-US;q=oops,,", "de", "de"},
		{"english region", "en-GB", "", "", "en"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Language(tc.xLanguage, tc.accept, tc.locale); got != tc.want {
				t.Errorf("Language(%q, %q, %q) = %q, want %q", tc.xLanguage, tc.accept, tc.locale, got, tc.want)
			}
		})
	}
}
