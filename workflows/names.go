// Package workflows holds stopline's Temporal workflows: Journey, one per
// (journey run, recipient), and Recipient, one per recipient, plus the IDs
// and search attributes that tie them to the worker, the starter and the
// webhook bridge. Their signals, queries and payloads are in contract.
package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the queue the stopline worker polls.
const TaskQueue = "stopline"

// Search attributes, so operators can filter in the Temporal UI, e.g.
// `JourneyName = "welcome" AND JourneyState = "stopped"`. Values never hold
// a phone number: RecipientKey is a keyed hash.
var (
	SAJourneyName  = temporal.NewSearchAttributeKeyKeyword("JourneyName")
	SAJourneyRunID = temporal.NewSearchAttributeKeyKeyword("JourneyRunID")
	SARecipientKey = temporal.NewSearchAttributeKeyKeyword("RecipientKey")
	SAJourneyState = temporal.NewSearchAttributeKeyKeyword("JourneyState")
)

type keywordSA struct {
	key   temporal.SearchAttributeKeyKeyword
	value string
}

// startSearchAttributes are a journey's search attributes while it runs:
// the starter sets them at start (StartSearchAttributes), and a journey
// started without them sets them itself.
func startSearchAttributes(journey, runID, recipientKey string) []keywordSA {
	return []keywordSA{{SAJourneyName, journey}, {SAJourneyRunID, runID},
		{SARecipientKey, recipientKey}, {SAJourneyState, StateRunning}}
}

// StartSearchAttributes are the search attributes to start in with.
func StartSearchAttributes(in JourneyInput) temporal.SearchAttributes {
	var set []temporal.SearchAttributeUpdate
	for _, sa := range startSearchAttributes(in.Journey.Name, in.RunID, in.RecipientKey) {
		set = append(set, sa.key.ValueSet(sa.value))
	}
	return temporal.NewSearchAttributes(set...)
}

// SearchAttributes lists stopline's search attributes for registration.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SAJourneyName.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAJourneyRunID.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SARecipientKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SAJourneyState.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// JourneyID is the deterministic workflow ID of a recipient's journey in a
// run: starting the same run twice starts no duplicates.
func JourneyID(runID, recipientKey string) string {
	return "journey/" + runID + "/" + recipientKey
}

// TestSendID is the workflow ID of a test send (starter test) to a
// recipient: its "test/" prefix keeps it apart from every journey's.
func TestSendID(runID, recipientKey string) string {
	return "test/" + runID + "/" + recipientKey
}

// RecipientID is the workflow ID of a recipient's Recipient workflow; it
// keeps the prefix of the name the workflow is registered under.
func RecipientID(recipientKey string) string {
	return "optout/" + recipientKey
}

// Registry is where workflows are registered: a worker, a replayer or a
// test environment.
type Registry interface {
	RegisterWorkflow(w any)
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Register registers Journey and Recipient under the names running
// workflows and recorded histories hold.
func Register(r Registry) {
	r.RegisterWorkflow(Journey)
	r.RegisterWorkflowWithOptions(Recipient, workflow.RegisterOptions{Name: RecipientWorkflow})
}
