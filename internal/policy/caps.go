package policy

import (
	"fmt"
	"time"
)

// Cap is a frequency cap: at most Max counted messages to a recipient in
// any rolling Per. The zero Cap caps nothing.
type Cap struct {
	Max int
	Per time.Duration
}

// IsZero reports whether c caps nothing.
func (c Cap) IsZero() bool { return c.Max <= 0 || c.Per <= 0 }

func (c Cap) String() string { return fmt.Sprintf("%d per %v", c.Max, c.Per) }

// StateCapPeriod is the statutes' period: a rolling 24 hours.
const StateCapPeriod = 24 * time.Hour

// StateCap is the strictest frequency cap of the state rules that govern a
// recipient (LegalRules: the area-code state's and the residence's;
// UnknownUS for a non-geographic number), or the zero Cap.
// The statutes cap calls "on the same subject"; stopline counts per
// program (the consent scope), the unit closest to a subject it knows.
func StateCap(e164, residence string) Cap {
	c := Cap{Per: StateCapPeriod}
	for _, r := range LegalRules(e164, residence) {
		if r.FrequencyCap > 0 && (c.Max == 0 || r.FrequencyCap < c.Max) {
			c.Max = r.FrequencyCap
		}
	}
	if c.Max == 0 {
		return Cap{}
	}
	return c
}
