package journey

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode/utf8"
)

// MaxBodyChars is the longest rendered SMS body. Twilio refuses longer ones
// (error 21617); failing at render time names the step instead of leaving a
// send activity retrying a message that can never go out.
const MaxBodyChars = 1600

// bodyName names every body template, so template errors read
// "template: sms:1:7: ...", after the step path that the caller adds.
const bodyName = "sms"

// parseBody parses an SMS body template. Templates are not cached: parsing
// one takes microseconds, and without a cache a Definition stays a plain
// value, safe to copy and to decode from workflow input.
func parseBody(body string) (*template.Template, error) {
	t, err := template.New(bodyName).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, err
	}
	for _, sub := range t.Templates() {
		if sub.Name() != bodyName {
			return nil, unsupported("{{define}}")
		}
	}
	if t.Tree == nil { // the body held nothing but defines
		return t, nil
	}
	return t, inspect(t.Root, func(string) {})
}

func unsupported(what string) error {
	return fmt.Errorf("template: %s is not supported in SMS bodies", what)
}

// inspect walks a parsed body and calls field with each attribute it reads
// ({{.code}}, {{$.code}}, {{index . "first name"}}), in template order. It also rejects what could make
// rendering, which runs in workflow code, unbounded in time or memory: loops
// ({{range}}), recursion ({{template}}, {{block}}) and printf, whose width
// ("%999999999d") allocates at will. Simple field access, conditionals
// ({{if}}, {{with}}) and the other built-in functions remain.
func inspect(node parse.Node, field func(string)) error {
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := inspect(c, field); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		return inspect(n.Pipe, field)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Cmds {
			if err := inspect(c, field); err != nil {
				return err
			}
		}
	case *parse.CommandNode:
		if isIdent(n.Args[0], "index") {
			// {{index . "first name"}} reaches attributes whose names are
			// not identifiers, such as CSV headers with spaces. Only that
			// form is allowed: index yields "" for a missing key, so the
			// key must be known here to be checked before execution.
			key, ok := indexKey(n)
			if !ok {
				return unsupported(`index other than {{index . "name"}}`)
			}
			field(key)
			return nil
		}
		for _, a := range n.Args {
			if err := inspect(a, field); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return inspectBranch(&n.BranchNode, field)
	case *parse.WithNode:
		return inspectBranch(&n.BranchNode, field)
	case *parse.RangeNode:
		return unsupported("{{range}}")
	case *parse.TemplateNode:
		return unsupported("{{template}}")
	case *parse.ChainNode:
		return inspect(n.Node, field)
	case *parse.FieldNode:
		field(n.Ident[0])
	case *parse.VariableNode:
		if n.Ident[0] == "$" && len(n.Ident) > 1 {
			field(n.Ident[1])
		}
	case *parse.IdentifierNode:
		if n.Ident == "printf" {
			return unsupported("printf")
		}
	}
	return nil
}

func isIdent(n parse.Node, name string) bool {
	id, ok := n.(*parse.IdentifierNode)
	return ok && id.Ident == name
}

// indexKey returns the key of an {{index . "key"}} or {{index $ "key"}}
// command.
func indexKey(cmd *parse.CommandNode) (string, bool) {
	if len(cmd.Args) != 3 {
		return "", false
	}
	switch root := cmd.Args[1].(type) {
	case *parse.DotNode:
	case *parse.VariableNode:
		if len(root.Ident) != 1 || root.Ident[0] != "$" {
			return "", false
		}
	default:
		return "", false
	}
	key, ok := cmd.Args[2].(*parse.StringNode)
	if !ok {
		return "", false
	}
	return key.Text, true
}

func inspectBranch(b *parse.BranchNode, field func(string)) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := inspect(n, field); err != nil {
			return err
		}
	}
	return nil
}

// bodyFields returns the attributes a parsed body reads, in template order.
func bodyFields(t *template.Template) []string {
	var names []string
	if t.Tree != nil {
		// parseBody has already rejected what inspect would.
		_ = inspect(t.Root, func(name string) { names = append(names, name) })
	}
	return names
}

// Attributes returns the sorted names of the recipient attributes that the
// SMS steps use, such as "code" and "first_name", so that a starter can check
// an audience's columns before starting any journey. Steps whose template
// does not parse are skipped; Validate reports them.
func (d *Definition) Attributes() []string {
	var names []string
	for _, s := range d.Steps {
		if s.IsWait() || s.Body() == "" {
			continue
		}
		if t, err := parseBody(s.Body()); err == nil {
			names = append(names, bodyFields(t)...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Render renders the body of every step for a recipient with attrs: one
// string per step, "" for waits. An attribute the template uses but attrs
// lacks is an error rather than a blank in a customer's message; a present
// but empty value renders as empty, so templates can use {{if .nickname}}.
// The first failing step is reported, e.g.
// `steps[2].sms: missing attribute "code"`.
//
// Render is deterministic (no clock, randomness or map order reaches the
// output), so workflow code may call it.
func (d *Definition) Render(attrs map[string]string) ([]string, error) {
	bodies := make([]string, len(d.Steps))
	for i, s := range d.Steps {
		if s.IsWait() {
			continue
		}
		body, err := renderBody(s.Body(), attrs)
		if err == nil {
			body, err = d.finish(body)
		}
		if err != nil {
			return nil, fmt.Errorf("steps[%d].%s: %w", i, s.field(), err)
		}
		bodies[i] = body
	}
	return bodies, nil
}

func renderBody(body string, attrs map[string]string) (string, error) {
	t, err := parseBody(body)
	if err != nil {
		return "", err
	}
	// Checked up front for a clear message, and because index ignores
	// missingkey=error. That option still guards what inspect cannot see,
	// such as {{$v := .}}{{$v.code}}.
	for _, name := range bodyFields(t) {
		if _, ok := attrs[name]; !ok {
			return "", fmt.Errorf("missing attribute %q", name)
		}
	}
	var b strings.Builder
	if err := t.Execute(&b, attrs); err != nil {
		return "", err
	}
	out := b.String()
	if strings.TrimSpace(out) == "" {
		return "", errors.New("rendered body is empty")
	}
	if n := utf8.RuneCountInString(out); n > MaxBodyChars {
		return "", fmt.Errorf("rendered body is %d characters, more than %d", n, MaxBodyChars)
	}
	return out, nil
}
