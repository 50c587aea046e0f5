package temporalns

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
)

func TestParseRetention(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * 24 * time.Hour}, {"1d", 24 * time.Hour}, {"72h", 72 * time.Hour},
		{"0d", 0}, {"12h", 0}, {"thirty", 0}, {"-3d", 0}, {"", 0},
	} {
		got, err := ParseRetention(tt.in)
		if (err != nil) != (tt.want == 0) || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	unmapped := serviceerror.NewInvalidArgument("Namespace default has no mapping defined for search attribute JourneyState")
	for _, tt := range []struct {
		name               string
		err                error
		unmapped, notFound bool
	}{
		{"unmapped", unmapped, true, false},
		{"unmapped, wrapped", fmt.Errorf("start: %w", unmapped), true, false},
		{"other invalid argument", serviceerror.NewInvalidArgument("WorkflowId is not set"), false, false},
		{"namespace not found", serviceerror.NewNamespaceNotFound("default"), false, true},
		{"not found naming the namespace", serviceerror.NewNotFound("Namespace default is not found."), false, true},
		{"workflow not found", serviceerror.NewNotFound("workflow execution not found"), false, false},
		{"unavailable", serviceerror.NewUnavailable("connection refused"), false, false},
		{"nil", nil, false, false},
	} {
		if got := IsUnmapped(tt.err); got != tt.unmapped {
			t.Errorf("%s: IsUnmapped = %v", tt.name, got)
		}
		if got := isNotFound(tt.err); got != tt.notFound {
			t.Errorf("%s: isNotFound = %v", tt.name, got)
		}
	}
}

func TestMissingErrorSaysHow(t *testing.T) {
	err := MissingError("prod")
	if !errors.Is(err, ErrMissing) {
		t.Fatal("MissingError does not wrap ErrMissing")
	}
	for _, want := range []string{`"prod"`, "-create-namespace", "STOPLINE_CREATE_NAMESPACE=true", "temporal operator namespace create --namespace prod"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
