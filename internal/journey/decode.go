package journey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// shape describes what a JSON value of a Definition may look like. encoding/json
// alone is too lenient for a file people write by hand: it matches keys
// case-insensitively, keeps the last of duplicate keys, and its unknown-field
// and type errors do not say where in the document they are. decodeStrict
// walks the document against this shape first, then decodes it normally.
type shape struct {
	kind   byte              // 's' string, 'b' boolean, 'o' object, 'a' array
	fields map[string]*shape // for objects
	elem   *shape            // for arrays
}

// definitionShape is derived from the Go types and their json tags, so a
// field added to a type is accepted in journey files at once: a list kept
// by hand drifted once (quiet_hours.allow_rest_days was documented, and
// refused).
var definitionShape = shapeOf(reflect.TypeFor[Definition]())

// shapeOf returns the shape of JSON that encoding/json decodes into t. It
// supports the kinds a Definition uses and panics on others, at package
// initialisation, so a field of a new kind cannot slip past the check.
func shapeOf(t reflect.Type) *shape {
	switch t.Kind() {
	case reflect.String:
		return &shape{kind: 's'}
	case reflect.Bool:
		return &shape{kind: 'b'}
	case reflect.Pointer:
		return shapeOf(t.Elem())
	case reflect.Slice:
		return &shape{kind: 'a', elem: shapeOf(t.Elem())}
	case reflect.Struct:
		s := &shape{kind: 'o', fields: make(map[string]*shape)}
		for f := range t.Fields() {
			name, _ := jsonName(f)
			switch {
			case name == "-":
				continue
			case f.Anonymous && name == "":
				// encoding/json would promote its fields; not worth supporting.
				panic(fmt.Sprintf("journey: embedded field %s.%s needs a json tag naming it", t, f.Name))
			case !f.IsExported():
				continue
			case name == "":
				panic(fmt.Sprintf("journey: field %s.%s needs a json tag naming it", t, f.Name))
			}
			s.fields[name] = shapeOf(f.Type)
		}
		return s
	}
	panic(fmt.Sprintf("journey: no JSON shape for %s (kind %s); extend shapeOf", t, t.Kind()))
}

// jsonName reads a field's json tag: its name, and whether it is
// omitempty, which in a journey file means optional.
func jsonName(f reflect.StructField) (name string, optional bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name, slices.Contains(strings.Split(opts, ","), "omitempty")
}

// SchemaKey is the key by which a journey file names its JSON Schema, for
// editors. It is accepted at the top level only, and ignored.
const SchemaKey = "$schema"

// fileShape is a journey file's: a Definition, and SchemaKey.
var fileShape = func() *shape {
	s := *definitionShape
	s.fields = maps.Clone(s.fields)
	s.fields[SchemaKey] = &shape{kind: 's'}
	return &s
}()

// decodeStrict decodes data into d, which must match fileShape.
func decodeStrict(data []byte, d *Definition) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty journey definition")
	}
	// Unmarshal checks the syntax of the whole input, trailing data
	// included, before decoding anything, and reports an offset in data
	// (json.Decoder's offsets are relative to its buffer).
	var raw json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := lineCol(data, syn.Offset)
			return fmt.Errorf("line %d, column %d: %v", line, col, syn)
		}
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := checkShape(dec, fileShape, ""); err != nil {
		return err
	}
	// The shape check leaves nothing for these to reject; they guard
	// against shapeOf reading a type differently from encoding/json.
	dec = json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	file := struct {
		Schema string `json:"$schema"`
		*Definition
	}{Definition: d}
	return dec.Decode(&file)
}

// checkShape reads one value from dec, which holds syntactically valid JSON,
// and checks it against s. null is accepted anywhere, as the field's zero
// value, which is what encoding/json makes of it.
func checkShape(dec *json.Decoder, s *shape, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	switch s.kind {
	case 's':
		if _, ok := tok.(string); !ok {
			return fieldErr(path, "must be a string, got %s", describe(tok))
		}
	case 'b':
		if _, ok := tok.(bool); !ok {
			return fieldErr(path, "must be true or false, got %s", describe(tok))
		}
	case 'o':
		if tok != json.Delim('{') {
			return fieldErr(path, "must be an object, got %s", describe(tok))
		}
		seen := make(map[string]bool)
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return err
			}
			key := keyTok.(string) // object keys are always strings
			sub, ok := s.fields[key]
			if !ok {
				return fieldErr(path, "unknown field %q%s", key, suggest(key, s.fields))
			}
			if seen[key] {
				return fieldErr(path, "duplicate field %q", key)
			}
			seen[key] = true
			if err := checkShape(dec, sub, joinPath(path, key)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return err
		}
	case 'a':
		if tok != json.Delim('[') {
			return fieldErr(path, "must be an array, got %s", describe(tok))
		}
		for i := 0; dec.More(); i++ {
			if err := checkShape(dec, s.elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return err
		}
	}
	return nil
}

// fieldErr formats an error about the value at path ("" is the document).
func fieldErr(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return errors.New(msg)
	}
	return errors.New(path + ": " + msg)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names the JSON type of a token for error messages.
func describe(tok json.Token) string {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}

// suggest returns a hint for a key that differs from a known one only in
// case, since encoding/json habits make "Name" for "name" a likely slip.
func suggest(key string, fields map[string]*shape) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names) // one answer even if two names fold alike
	for _, name := range names {
		if strings.EqualFold(key, name) {
			return fmt.Sprintf(" (did you mean %q?)", name)
		}
	}
	return ""
}

// lineCol converts a json.SyntaxError offset, the number of bytes read when
// the error was found, to the 1-based line and column of the offending byte.
func lineCol(data []byte, offset int64) (line, col int) {
	pos := int(offset) - 1 // the offending byte was the last one read
	pos = max(0, min(pos, len(data)))
	before := data[:pos]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = pos - bytes.LastIndexByte(before, '\n')
	return line, col
}
