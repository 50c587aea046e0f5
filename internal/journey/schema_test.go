package journey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaFile = "../../schema/journey.schema.json"

// The committed schema is Schema's output: a field added to the Go types
// without `go generate ./internal/journey` fails here.
func TestSchemaFileIsGenerated(t *testing.T) {
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Schema()) {
		t.Errorf("%s differs from journey.Schema(): run go generate ./internal/journey", schemaFile)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("journey.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("journey.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func schemaValidates(t *testing.T, s *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(inst)
}

// Every journey example validates against the schema, names it, and
// parses.
func TestExamplesValidate(t *testing.T) {
	s := compileSchema(t)
	files, err := filepath.Glob("../../examples/*.json")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if filepath.Base(f) == "senders.json" { // not a journey
			continue
		}
		n++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemaValidates(t, s, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		var top map[string]any
		if err := json.Unmarshal(data, &top); err != nil || top[SchemaKey] != "../schema/journey.schema.json" {
			t.Errorf("%s: %s = %v, want ../schema/journey.schema.json", f, SchemaKey, top[SchemaKey])
		}
	}
	if n < 3 {
		t.Errorf("found %d journey examples, want at least 3", n)
	}
}

// Each object of the schema has exactly the fields the strict decoder
// reads, type by type.
func TestSchemaHasTheDecodersFields(t *testing.T) {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	check := func(what string, schemaProps map[string]json.RawMessage, s *shape) {
		got, want := slices.Sorted(maps.Keys(schemaProps)), slices.Sorted(maps.Keys(s.fields))
		if !slices.Equal(got, want) {
			t.Errorf("%s: schema properties %v, decoder fields %v", what, got, want)
		}
	}
	check("document", doc.Properties, fileShape)
	sender := definitionShape.fields["sender"]
	check("Sender", doc.Defs["Sender"].Properties, sender)
	check("QuietHours", doc.Defs["QuietHours"].Properties, sender.fields["quiet_hours"])
	check("Step", doc.Defs["Step"].Properties, definitionShape.fields["steps"].elem)
	if len(doc.Defs) != 3 {
		t.Errorf("schema defines %d types, want Sender, QuietHours and Step", len(doc.Defs))
	}
}

// agreementBase sets every field once (but messaging_service_sid, the
// alternative to from), so each mutation below changes one thing.
const agreementBase = `{"$schema": "x.json", "name": "j", "category": "marketing",
	"sender": {"provider": "twilio", "from": "+15550001111", "type": "long_code", "language": "fr",
		"footer": "STOP au 36111", "alt_instruction": "Call 0800 123 456 to opt out", "short_code_keywords": true,
		"quiet_hours": {"start": "09:00", "end": "20:00", "allow_rest_days": true, "legal_override": "staff"}},
	"steps": [{"sms": "Hi"}, {"wait": "1h"}, {"opt_in": "Reply YES"}]}`

// mutation edits a decoded copy of agreementBase.
type mutation struct {
	name   string
	edit   func(doc map[string]any)
	accept bool   // both accept; else both reject
	field  string // a rejection by the decoder names this
}

func obj(doc map[string]any, path ...string) map[string]any {
	for _, p := range path {
		if p == "steps[0]" {
			doc = doc["steps"].([]any)[0].(map[string]any)
			continue
		}
		doc = doc[p].(map[string]any)
	}
	return doc
}

// mutations derive, from the schema's own objects, a change per field:
// unknown and miscased fields, each required field removed, a wrong type
// for each field, each enum's values and one outside it.
func mutations(t *testing.T) []mutation {
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	where := map[string][]string{"": nil, "Sender": {"sender"}, "QuietHours": {"sender", "quiet_hours"}, "Step": {"steps[0]"}}
	prefix := map[string]string{"": "", "Sender": "sender.", "QuietHours": "sender.quiet_hours.", "Step": "steps[0]."}
	var ms []mutation
	for def, path := range where {
		s := doc
		if def != "" {
			s = doc["$defs"].(map[string]any)[def].(map[string]any)
		}
		loc := strings.Join(path, ".")
		ms = append(ms,
			mutation{name: loc + " unknown field", edit: func(d map[string]any) { obj(d, path...)["bogus"] = "x" }, field: `unknown field "bogus"`},
		)
		if def != "" {
			ms = append(ms, mutation{name: loc + " $schema", edit: func(d map[string]any) { obj(d, path...)[SchemaKey] = "x" }, field: `unknown field "$schema"`})
		}
		required, _ := s["required"].([]any)
		for _, r := range required {
			name := r.(string)
			ms = append(ms, mutation{name: loc + " without " + name, edit: func(d map[string]any) { delete(obj(d, path...), name) }, field: prefix[def] + name})
			ms = append(ms, mutation{name: loc + " miscased " + name, edit: func(d map[string]any) {
				o := obj(d, path...)
				o[strings.ToUpper(name)] = o[name]
				delete(o, name)
			}, field: "did you mean"})
		}
		for name, p := range s["properties"].(map[string]any) {
			prop := p.(map[string]any)
			field := prefix[def] + name
			wrong := any(1.0)
			if prop["type"] == "boolean" {
				wrong = "true"
			}
			ms = append(ms, mutation{name: field + " wrong type", edit: func(d map[string]any) { obj(d, path...)[name] = wrong }, field: field})
			if enum, ok := prop["enum"].([]any); ok {
				for _, v := range enum {
					ms = append(ms, mutation{name: fmt.Sprintf("%s %v", field, v), edit: func(d map[string]any) { obj(d, path...)[name] = v }, accept: true, field: field})
				}
				ms = append(ms, mutation{name: field + " outside the enum", edit: func(d map[string]any) { obj(d, path...)[name] = "nope" }, field: field})
			}
		}
	}
	return append(ms,
		mutation{name: "base", edit: func(map[string]any) {}, accept: true},
		mutation{name: "no steps", edit: func(d map[string]any) { d["steps"] = []any{} }, field: "steps"},
		mutation{name: "a step with two kinds", edit: func(d map[string]any) { obj(d, "steps[0]")["wait"] = "1h" }, field: "steps[0]"},
		mutation{name: "an empty step", edit: func(d map[string]any) { delete(obj(d, "steps[0]"), "sms") }, field: "steps[0]"},
		mutation{name: "from and messaging service", edit: func(d map[string]any) {
			obj(d, "sender")["messaging_service_sid"] = "MG" + strings.Repeat("a", 32)
		}, field: "sender"},
		mutation{name: "a messaging service instead of from", edit: func(d map[string]any) {
			delete(obj(d, "sender"), "from")
			obj(d, "sender")["messaging_service_sid"] = "MG" + strings.Repeat("a", 32)
		}, accept: true},
		mutation{name: "a bad name", edit: func(d map[string]any) { d["name"] = "a b" }, field: "name"},
		mutation{name: "a bad messaging service SID", edit: func(d map[string]any) {
			delete(obj(d, "sender"), "from")
			obj(d, "sender")["messaging_service_sid"] = "MGAB"
		}, field: "sender.messaging_service_sid"},
		mutation{name: "a bad clock", edit: func(d map[string]any) { obj(d, "sender", "quiet_hours")["start"] = "9am" }, field: "sender.quiet_hours"},
	)
}

// The schema and the strict decoder (with Validate) accept and reject the
// same documents, for every field.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	s := compileSchema(t)
	disagree := 0
	for _, m := range mutations(t) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(agreementBase), &doc); err != nil {
			t.Fatal(err)
		}
		m.edit(doc)
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		schemaErr := schemaValidates(t, s, data)
		_, decodeErr := Parse(data)
		names := decodeErr != nil && strings.Contains(dotted(decodeErr.Error()), dotted(m.field))
		switch {
		case m.accept && (schemaErr != nil || decodeErr != nil && (m.field == "" || names)):
			// An enum value may be refused by another rule (a short code
			// needs a short code number): only its own field must pass.
			t.Errorf("%s: schema %v, decoder %v; want both to accept", m.name, schemaErr, decodeErr)
			disagree++
		case !m.accept && (schemaErr == nil || !names):
			t.Errorf("%s: schema %v, decoder %v; want both to reject, the decoder naming %q", m.name, schemaErr, decodeErr, m.field)
			disagree++
		}
	}
	if disagree > 0 {
		t.Errorf("%d disagreements", disagree)
	}
}

// dotted reads "sender.quiet_hours: start" (Validate's form) and
// "sender.quiet_hours.start" (the shape check's) alike.
func dotted(s string) string { return strings.ReplaceAll(s, ": ", ".") }
