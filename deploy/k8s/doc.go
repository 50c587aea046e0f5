// Package k8s holds the Kubernetes example; its test checks the manifests
// offline. No OpenAPI schema validator works offline here (kubeconform
// downloads its schemas), so each document is decoded strictly into the
// official k8s.io/api types: an unknown or misspelled field, or a value of
// the wrong type, fails. Required fields and the API server's own
// validation are not checked.
package k8s
