package keywords

import "testing"

// BenchmarkClassify runs on every inbound message: a mix like the bench's
// webhook scenario (mostly plain text, some keywords), under the default
// Config.
func BenchmarkClassify(b *testing.B) {
	bodies := []string{
		"STOP", "HELP", "Thanks, see you Saturday!", "What time do you open tomorrow?",
		"stop please", "Can I stop by the store tomorrow?", "Yes", "ok",
		"Is the 20% off valid on shoes too? My daughter wants the red ones in size 6",
		"STOP\n\nSent from my iPhone",
	}
	for b.Loop() {
		for _, body := range bodies {
			Classify(body, Config{})
		}
	}
}
