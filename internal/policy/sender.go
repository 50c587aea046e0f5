package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stopline/stopline/workflows/contract"
)

// ErrNoOptOutPath is wrapped by CheckSender errors: recipients of the
// sender's marketing messages would have no way to opt out.
var ErrNoOptOutPath = errors.New("no way to opt out")

// CheckSender reports whether a sender may carry messages of category.
//
// Marketing messages must say how to opt out, and the way must work. Long
// codes and toll-free numbers take keyword replies. Alphanumeric sender IDs
// cannot receive at all, and short codes have keyword handling off unless the
// sender enables it (keywordsEnabled), so their marketing needs an
// alternative instruction: a number or short code to text, a phone line or a
// support address. Transactional messages need none; any other category
// counts as marketing, so a typo fails safe.
//
// The error names the sender type and what to configure; the caller adds
// where (`steps[2]: sender "ACME": ...`). Errors wrap ErrNoOptOutPath.
func CheckSender(senderType contract.SenderType, keywordsEnabled bool, category contract.Category, altInstruction string) error {
	switch senderType {
	case contract.SenderLongCode, contract.SenderTollFree, contract.SenderShortCode, contract.SenderAlphanumeric:
	default:
		// Checked first, whatever the category: a typo must not pass.
		return fmt.Errorf("unknown sender type %q (want %s, %s, %s or %s)", senderType, contract.SenderLongCode, contract.SenderTollFree, contract.SenderShortCode, contract.SenderAlphanumeric)
	}
	if category == contract.CategoryTransactional || strings.TrimSpace(altInstruction) != "" {
		return nil
	}
	switch {
	case senderType == contract.SenderAlphanumeric:
		return fmt.Errorf("%w: an alphanumeric sender cannot receive replies, so its marketing messages need an alternative opt-out instruction: set alt_instruction on the sender (e.g. \"Text STOP to 12345\" or \"Call 0800 123 456 to opt out\")", ErrNoOptOutPath)
	case senderType == contract.SenderShortCode && !keywordsEnabled:
		return fmt.Errorf("%w: a short code without keyword handling ignores STOP replies: enable short_code_keywords on the sender, or set alt_instruction (e.g. \"Call 0800 123 456 to opt out\")", ErrNoOptOutPath)
	}
	return nil
}
