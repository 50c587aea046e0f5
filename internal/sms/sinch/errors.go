package sinch

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/stopline/stopline/internal/sms"
)

// codeOptedOut is Sinch's "User opted out (STOP)": the recipient texted STOP
// to a toll-free number and the network now blocks messages to them.
const codeOptedOut = "257"

// errorBody is what Sinch puts in an error response. The SMS API uses
// {"code": "...", "text": "..."}; newer Sinch APIs nest a Google-style
// {"error": {"code": 400, "message": "...", "status": "INVALID_ARGUMENT"}}.
// Codes are usually words but may be numbers, quoted or not (257).
type errorBody struct {
	Code    json.RawMessage `json:"code"`
	Text    string          `json:"text"`
	Message string          `json:"message"`
	Error   *struct {
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// parseErrorBody extracts the code and text of a Sinch error body. ok is
// false when the body is not a JSON object with either.
func parseErrorBody(b []byte) (code, text string, ok bool) {
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil {
		return "", "", false
	}
	code = rawCode(e.Code)
	text = e.Text
	if text == "" {
		text = e.Message
	}
	if e.Error != nil {
		if code == "" {
			code = e.Error.Status
		}
		if text == "" {
			text = e.Error.Message
		}
	}
	return code, text, code != "" || text != ""
}

// rawCode turns a JSON string or number into its text; anything else is "".
func rawCode(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// recipientProblem spots a parameter-format error about the recipient
// rather than, say, the sender, which must stay Permanent.
var recipientProblem = regexp.MustCompile(`(?i)recipient|'to'|"to"|\bto field|field to\b`)

func kindFor(status int, code, text string) sms.Kind {
	switch {
	case code == codeOptedOut:
		return sms.OptedOut
	case code == "illegal_number_type":
		return sms.InvalidNumber
	case code == "syntax_invalid_parameter_format" && recipientProblem.MatchString(text):
		return sms.InvalidNumber
	}
	return sms.KindForHTTPStatus(status)
}

// classify turns a Sinch error response into an *sms.Error whose message
// never holds the recipient number.
func classify(status int, body []byte, to string) *sms.Error {
	e := &sms.Error{Provider: provider, HTTPStatus: status}
	code, text, ok := parseErrorBody(body)
	if !ok {
		// Not Sinch's JSON (a proxy's HTML page, say): the status decides.
		e.Kind = sms.KindForHTTPStatus(status)
		e.Message = sms.Redact(sms.StatusMessage(status, body), to)
		return e
	}
	e.Kind = kindFor(status, code, text)
	if n, err := strconv.Atoi(code); err == nil {
		e.Code = n
	}
	e.Message = sms.CodeMessage(code, text, to)
	return e
}
