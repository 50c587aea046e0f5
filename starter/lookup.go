package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	workflowservice "go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/stopline/stopline/internal/phone"
	"github.com/stopline/stopline/workflows"
)

// printKey shows the recipient key of a number and how to find its
// workflows in the Temporal UI, which never shows raw numbers.
func printKey(w io.Writer, k phone.Keyer, raw, region, ui string) error {
	e164, err := phone.Normalize(raw, region)
	if err != nil {
		return err
	}
	key := k.Key(e164)
	q := fmt.Sprintf(`RecipientKey = %q`, key)
	fmt.Fprintf(w, "number:        %s\nrecipient key: %s\nUI query:      %s\njourneys:      %s?query=%s\nopt-out:       workflow ID %s\n",
		phone.Mask(e164), key, q, uiWorkflows(ui), queryEscape(q), workflows.RecipientID(key))
	return nil
}

// listRun prints the journeys of a run from Temporal visibility (which lags
// a little behind the journeys themselves).
func listRun(ctx context.Context, w io.Writer, c client.Client, runID string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKFLOW ID\tSTATUS\tJOURNEY STATE")
	query := fmt.Sprintf(`JourneyRunID = %q`, runID)
	var token []byte
	n := 0
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token, PageSize: 1000})
		if err != nil {
			return fmt.Errorf("list run %s: %w", runID, err)
		}
		for _, e := range resp.GetExecutions() {
			state := ""
			if p, ok := e.GetSearchAttributes().GetIndexedFields()[workflows.SAJourneyState.GetName()]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(p, &state)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.GetExecution().GetWorkflowId(), e.GetStatus(), state)
			n++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	fmt.Fprintf(tw, "%d journeys\n", n)
	return tw.Flush()
}

func queryEscape(q string) string { return url.QueryEscape(q) }

// uiWorkflows is the Temporal UI's workflow list of the namespace the
// starter uses.
func uiWorkflows(ui string) string {
	return ui + "/namespaces/" + url.PathEscape(namespace()) + "/workflows"
}
