package journey

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/stopline/stopline/workflows/contract"
)

//go:generate go run ./internal/genschema ../../schema/journey.schema.json

// schemaNotes add to the JSON Schema what the Go types cannot say, by
// "Type.field": the allowed values (the lists Validate uses), patterns
// (Validate's own expressions) and descriptions for editors.
var schemaNotes = map[string]schemaNote{
	"Definition.name":     {pattern: nameRE.String(), doc: "Identifies the journey; goes into workflow IDs."},
	"Definition.category": {enum: strs(categories), doc: "marketing gets the opt-out footer and the sending window; transactional neither."},
	"Definition.steps":    {minItems: 1, doc: "SMS, wait and opt_in steps, numbered from 0; at least one sms or opt_in."},
	"Sender.provider":     {enum: strs(contract.Providers)},
	"Sender.type":         {enum: strs(senderTypes)},
	"Sender.from":         {doc: "E.164 number, short code or alphanumeric ID; the consent scope. Exactly one of from and messaging_service_sid."},
	"Sender.messaging_service_sid": {pattern: messagingServiceSIDRE.String(),
		doc: "Twilio Messaging Service SID (MG + 32 lowercase hex). Exactly one of from and messaging_service_sid."},
	"Sender.language":           {enum: languages, doc: "Language of the default opt-out footer; default en."},
	"Sender.footer":             {doc: "Replaces the default opt-out footer."},
	"Sender.alt_instruction":    {doc: "How to opt out from a sender that cannot take STOP replies; replaces the footer."},
	"QuietHours.start":          {pattern: clockPattern, doc: "HH:MM, recipient's local time."},
	"QuietHours.end":            {pattern: clockPattern, doc: "HH:MM, recipient's local time (24:00 for midnight)."},
	"QuietHours.legal_override": {doc: "Why this sender may send outside the legal window: the hours then replace it."},
	"Step.sms":                  {doc: "Message body, a Go text/template over the audience's columns."},
	"Step.wait":                 {doc: "Pause before the next step: a Go duration (90s, 1h30m) or whole days (7d)."},
	"Step.opt_in":               {doc: "Double opt-in request body; the journey waits up to 24 h for YES."},
}

// clockPattern is the shape clock accepts; clock also checks the range.
const clockPattern = `^[0-9]+:[0-9]{2}$`

// schemaOneOf lists, per type, the fields of which exactly one is set.
var schemaOneOf = map[string][]string{
	"Sender": {"from", "messaging_service_sid"},
	"Step":   {"sms", "wait", "opt_in"},
}

type schemaNote struct {
	enum     []string
	pattern  string
	minItems int
	doc      string
}

// Schema returns the JSON Schema (draft 2020-12) of a journey file, made
// from the Definition type and the json tags the strict decoder reads: a
// field without omitempty is required, and no other field is allowed.
// schema/journey.schema.json is its output (go generate).
func Schema() []byte {
	defs := map[string]any{}
	root := schemaOf(reflect.TypeFor[Definition](), defs)
	delete(defs, "Definition") // the document itself
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "stopline journey"
	root["properties"].(map[string]any)[SchemaKey] = map[string]any{"type": "string",
		"description": "This schema's location, for editors; ignored by stopline."}
	root["$defs"] = defs
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		panic(err) // maps of strings and slices always encode
	}
	return b.Bytes()
}

// schemaOf returns the schema of t; structs are put in defs by type name
// and referred to.
func schemaOf(t reflect.Type, defs map[string]any) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem(), defs)
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), defs)}
	}
	// shapeOf has already refused any other kind, at initialisation.
	props, required := map[string]any{}, []string{}
	for f := range t.Fields() {
		name, optional := jsonName(f)
		if name == "-" || !f.IsExported() {
			continue
		}
		p := schemaOf(f.Type, defs)
		if n, ok := schemaNotes[t.Name()+"."+name]; ok {
			if n.enum != nil {
				p["enum"] = n.enum
			}
			if n.pattern != "" {
				p["pattern"] = n.pattern
			}
			if n.minItems > 0 {
				p["minItems"] = n.minItems
			}
			if n.doc != "" {
				p["description"] = n.doc
			}
		}
		props[name] = p
		if !optional {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if one := schemaOneOf[t.Name()]; one != nil {
		var alts []any
		for _, f := range one {
			alts = append(alts, map[string]any{"required": []string{f}})
		}
		s["oneOf"] = alts
	}
	if t.Name() == "Definition" {
		return s
	}
	defs[t.Name()] = s
	return map[string]any{"$ref": "#/$defs/" + t.Name()}
}
