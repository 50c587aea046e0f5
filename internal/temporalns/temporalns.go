// Package temporalns prepares a Temporal namespace for stopline: it says
// how to create a missing one, creates it on request, registers the search
// attributes, and proves they can be used.
//
// The official server creates no namespace, and a search attribute it has
// just added is refused ("no mapping defined for search attribute") until
// the frontend's namespace cache refreshes, which takes seconds. So a
// namespace is only ready once a start that carries the attributes
// succeeds: Probe does exactly that.
package temporalns

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultRetention is how long Temporal keeps a closed journey's history
// in a namespace that stopline creates.
const DefaultRetention = 30 * 24 * time.Hour

// ErrMissing is wrapped by MissingError.
var ErrMissing = errors.New("temporal namespace does not exist")

// MissingError is the one message for a namespace that does not exist,
// from the worker, the starter and the admin commands alike.
func MissingError(ns string) error {
	return fmt.Errorf("%w: %q. Create it once: start one worker with -create-namespace "+
		"(or STOPLINE_CREATE_NAMESPACE=true; retention -namespace-retention, default 30d), "+
		"or run `temporal operator namespace create --namespace %s --retention 30d`; "+
		"or set TEMPORAL_NAMESPACE to an existing namespace", ErrMissing, ns, ns)
}

// Check returns MissingError when ns does not exist; other errors (Temporal
// unreachable, no permission) come back as they are.
func Check(ctx context.Context, c client.Client, ns string) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: ns})
	if isNotFound(err) {
		return MissingError(ns)
	}
	if err != nil {
		return fmt.Errorf("temporal: describe namespace %q: %w", ns, err)
	}
	return nil
}

// Create registers ns with the given retention. A namespace that exists
// already (another worker created it first) is not an error.
func Create(ctx context.Context, c client.Client, ns string, retention time.Duration) error {
	_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        ns,
		Description:                      "stopline journeys and opt-outs",
		WorkflowExecutionRetentionPeriod: durationpb.New(retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("temporal: create namespace %q: %w", ns, err)
	}
	return nil
}

// EnsureSearchAttributes adds the attributes missing from ns. Right after
// Create the namespace may not be visible to the operator service yet, so
// a not-found is retried until ctx ends.
func EnsureSearchAttributes(ctx context.Context, c client.Client, ns string, attrs map[string]enumspb.IndexedValueType) error {
	for {
		err := addMissing(ctx, c, ns, attrs)
		if !isNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return MissingError(ns)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func addMissing(ctx context.Context, c client.Client, ns string, attrs map[string]enumspb.IndexedValueType) error {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("temporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range attrs {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: missing})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) { // a peer added them first
		return fmt.Errorf("temporal: add search attributes %v: %w", missing, err)
	}
	return nil
}

// ProbeTaskQueue is the task queue of probe workflows. Nothing polls it:
// a probe never runs, it is only started and terminated.
const ProbeTaskQueue = "stopline-probe"

// probeValue is the value a probe gives every Keyword attribute, so a
// query for real journeys never matches it.
const probeValue = "stopline-readiness-probe"

// Probe starts a workflow that carries every attribute of attrs, as the
// starter's starts do, and terminates it at once. It fails with the
// server's "no mapping defined for search attribute" until the frontend
// can use them. Each probe leaves one terminated workflow
// (stopline-probe/<id>) in the namespace until retention removes it.
func Probe(ctx context.Context, c client.Client, id string, attrs map[string]enumspb.IndexedValueType) error {
	var pairs []temporal.SearchAttributeUpdate
	for name, typ := range attrs {
		if typ != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
			return fmt.Errorf("temporalns: probe: attribute %s has type %v, only Keyword is supported", name, typ)
		}
		pairs = append(pairs, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(probeValue))
	}
	wid := "stopline-probe/" + id
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       wid,
		TaskQueue:                ProbeTaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING,
		// Ends by itself should the terminate below be lost.
		WorkflowExecutionTimeout: time.Minute,
		TypedSearchAttributes:    temporal.NewSearchAttributes(pairs...),
	}, "StoplineReadinessProbe")
	if err != nil {
		return fmt.Errorf("temporal: probe start with the search attributes: %w", err)
	}
	err = c.TerminateWorkflow(ctx, wid, run.GetRunID(), "stopline readiness probe")
	var gone *serviceerror.NotFound
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("temporal: terminate probe: %w", err)
	}
	return nil
}

// IsUnmapped reports whether err is the frontend refusing search
// attributes it has not picked up yet.
func IsUnmapped(err error) bool {
	var inv *serviceerror.InvalidArgument
	return errors.As(err, &inv) && strings.Contains(inv.Message, "no mapping defined for search attribute")
}

func isNotFound(err error) bool {
	var nf *serviceerror.NamespaceNotFound
	if errors.As(err, &nf) {
		return true
	}
	// Some paths answer a plain NotFound naming the namespace.
	var nf2 *serviceerror.NotFound
	return errors.As(err, &nf2) && strings.Contains(nf2.Message, "amespace")
}

// ParseRetention reads a retention period: whole days ("30d") or a Go
// duration ("720h"). Temporal wants at least a day.
func ParseRetention(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 24*time.Hour {
		return 0, fmt.Errorf("%q: want whole days such as 30d (at least 1d)", s)
	}
	return d, nil
}
