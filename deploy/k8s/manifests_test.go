package k8s

import (
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

type manifests struct {
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
}

func load(t *testing.T, path string) manifests {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	targets := map[string]any{"Deployment": &m.deployment, "Service": &m.service, "PodDisruptionBudget": &m.pdb}
	for i, doc := range strings.Split(string(b), "\n---\n") {
		var head struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("%s: document %d: %v", path, i+1, err)
		}
		target, ok := targets[head.Kind]
		if !ok {
			t.Fatalf("%s: document %d: unexpected kind %q", path, i+1, head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Fatalf("%s: %s: %v", path, head.Kind, err)
		}
		delete(targets, head.Kind)
	}
	if len(targets) > 0 {
		t.Fatalf("%s: missing %v", path, reflect.ValueOf(targets).MapKeys())
	}
	return m
}

func TestWorkerManifests(t *testing.T) {
	m := load(t, "worker.yaml")
	pod := m.deployment.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	public, admin, metrics := port(c.Args, "-http"), port(c.Args, "-admin-http"), port(c.Args, "-metrics-addr")
	exposed := map[int32]bool{}
	for _, p := range m.service.Spec.Ports {
		exposed[containerPort(c, p.TargetPort.String())] = true
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"readiness probe on /readyz", c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path == "/readyz"},
		{"liveness probe on /healthz", c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/healthz"},
		{"cpu and memory requests", !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero()},
		{"memory limit", !c.Resources.Limits.Memory().IsZero()},
		{"secrets from a Secret", len(c.EnvFrom) == 1 && c.EnvFrom[0].SecretRef != nil},
		{"no secret value inline", !hasInlineSecret(c.Env)},
		{"selector matches the pod labels", matches(m.deployment.Spec.Selector.MatchLabels, pod.Labels)},
		{"Service selects the pods", matches(m.service.Spec.Selector, pod.Labels)},
		{"PodDisruptionBudget selects the pods", m.pdb.Spec.Selector != nil && matches(m.pdb.Spec.Selector.MatchLabels, pod.Labels)},
		{"PodDisruptionBudget leaves room to drain", m.pdb.Spec.MinAvailable != nil && m.deployment.Spec.Replicas != nil &&
			m.pdb.Spec.MinAvailable.IntValue() < int(*m.deployment.Spec.Replicas)},
		// The Service (behind the Ingress) reaches only -http: the admin
		// API, codec server and /metrics listen on ports it does not.
		{"the Service reaching -http only", len(exposed) == 1 && public != 0 && exposed[public]},
		{"-admin-http on a declared port the Service does not reach", declared(c, admin) && !exposed[admin]},
		{"-metrics-addr on a declared port the Service does not reach", declared(c, metrics) && !exposed[metrics]},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("worker.yaml: want %s", ch.what)
		}
	}
}

// The test itself must fail on a manifest with a misspelled field.
func TestStrictDecodingCatchesTypos(t *testing.T) {
	var d appsv1.Deployment
	err := yaml.UnmarshalStrict([]byte("kind: Deployment\nspec:\n  replica: 3\n"), &d)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("UnmarshalStrict: %v, want an unknown field error", err)
	}
}

func hasInlineSecret(env []corev1.EnvVar) bool {
	for _, e := range env {
		for _, s := range []string{"TOKEN", "SECRET", "PASSWORD", "DATABASE_URL", "KEYS"} {
			if strings.Contains(e.Name, s) && e.Value != "" {
				return true
			}
		}
	}
	return false
}

func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// port is the port of the address given to flag in args, 0 if none.
func port(args []string, flag string) int32 {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			_, p, err := net.SplitHostPort(args[i+1])
			if n, perr := strconv.Atoi(p); err == nil && perr == nil {
				return int32(n)
			}
		}
	}
	return 0
}

// containerPort resolves a Service's targetPort (a number or a port name).
func containerPort(c corev1.Container, target string) int32 {
	for _, p := range c.Ports {
		if p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target {
			return p.ContainerPort
		}
	}
	return 0
}

func declared(c corev1.Container, port int32) bool {
	return port != 0 && containerPort(c, strconv.Itoa(int(port))) == port
}
