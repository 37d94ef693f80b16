package helm_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/duohuo/duohuo/internal/config"
	"github.com/duohuo/duohuo/internal/testexec"
)

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
	helmDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if helmDir != "" {
		os.RemoveAll(helmDir)
	}
	os.Exit(code)
}

// helm returns a helm binary: $DUOHUO_HELM, or one built once per run from
// the version deploy/helm/tools/go.mod pins.
func helm(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DUOHUO_HELM"); p != "" {
		return p
	}
	testexec.Tool(t, "go", "the Go toolchain")
	helmOnce.Do(func() {
		if helmDir, helmErr = os.MkdirTemp("", "duohuo-helm-"); helmErr != nil {
			return
		}
		helmBin = filepath.Join(helmDir, "helm")
		cmd := exec.Command("go", "-C", "tools", "build", "-o", helmBin, "helm.sh/helm/v3/cmd/helm")
		// Not for the GOARCH of build/crosstest.sh: helm runs on this machine.
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); k != "GOOS" && k != "GOARCH" {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			helmErr = errors.New("build helm: " + err.Error() + "\n" + string(out))
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	return helmBin
}

// runHelm runs helm with a home of its own (no user's repositories or
// plugins) and returns stdout, stderr and the error.
func runHelm(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm(t), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func TestLint(t *testing.T) {
	for _, set := range [][]string{nil, {"--set", "kind=DaemonSet", "--set", "serviceMonitor.enabled=true"}} {
		out, errs, err := runHelm(t, append([]string{"lint", "--strict", "duohuo"}, set...)...)
		if err != nil || !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
			t.Errorf("helm lint --strict %q: %v\n%s%s", set, err, out, errs)
		}
	}
}

// manifest is one rendered object, decoded loosely.
type manifest map[string]any

func (m manifest) kind() string { s, _ := m["kind"].(string); return s }

// get walks keys (strings for maps, ints for lists) into m.
// yaml.v3 decodes the nested mappings of a manifest as manifests too.
func get(v any, path ...any) any {
	for _, p := range path {
		if m, ok := v.(manifest); ok {
			v = map[string]any(m)
		}
		switch k := p.(type) {
		case string:
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// render runs helm template with args and returns the objects by kind.
func render(t *testing.T, args ...string) map[string]manifest {
	t.Helper()
	out, errs, err := runHelm(t, append([]string{"template", "gw", "duohuo", "--namespace", "edge"}, args...)...)
	if err != nil {
		t.Fatalf("helm template %q: %v\n%s", args, err, errs)
	}
	objs := map[string]manifest{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("helm template: %v\n%s", err, out)
		}
		if m == nil {
			continue
		}
		if _, dup := objs[m.kind()]; dup {
			t.Fatalf("helm template: two %s objects", m.kind())
		}
		objs[m.kind()] = m
	}
	return objs
}

func kinds(objs map[string]manifest) []string {
	var k []string
	for kind := range objs {
		k = append(k, kind)
	}
	slices.Sort(k)
	return k
}

// validConfig checks the ConfigMap's duohuo.yaml with duohuo's own loader,
// with the token the pod gets from the Secret.
func validConfig(t *testing.T, cm manifest) *config.Config {
	t.Helper()
	text, _ := get(cm, "data", "duohuo.yaml").(string)
	p := filepath.Join(t.TempDir(), "duohuo.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DUOHUO_ADMIN_TOKEN", "a-token-from-the-secret")
	cfg, err := config.Load(p)
	if err != nil {
		t.Fatalf("the rendered duohuo.yaml does not validate: %v\n%s", err, text)
	}
	return cfg
}

func TestDefaultsRenderADeploymentSpreadAcrossZones(t *testing.T) {
	objs := render(t)
	if got, want := kinds(objs), []string{"ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"}; !slices.Equal(got, want) {
		t.Fatalf("kinds %q, want %q", got, want)
	}
	cfg := validConfig(t, objs["ConfigMap"])
	if cfg.Admin.Listen != "0.0.0.0:9900" || cfg.Admin.Token != "a-token-from-the-secret" {
		t.Errorf("admin listen %q token %q: want 0.0.0.0:9900 and the Secret's token", cfg.Admin.Listen, cfg.Admin.Token)
	}
	d := objs["Deployment"]
	if r := get(d, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %v", r)
	}
	pod := get(d, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	for probe, path := range map[string]string{"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		if get(c, probe, "httpGet", "path") != path || get(c, probe, "httpGet", "port") != "admin" {
			t.Errorf("%s: %v, want GET %s on the admin port", probe, get(c, probe), path)
		}
	}
	if get(c, "ports", 1, "name") != "admin" || get(c, "ports", 1, "containerPort") != 9900 {
		t.Errorf("container ports %v", get(c, "ports"))
	}
	if get(c, "env", 0, "name") != "DUOHUO_ADMIN_TOKEN" || get(c, "env", 0, "valueFrom", "secretKeyRef", "name") != "gw-duohuo-admin" {
		t.Errorf("env %v: want DUOHUO_ADMIN_TOKEN from the Secret gw-duohuo-admin", get(c, "env"))
	}
	if get(objs["Secret"], "metadata", "name") != "gw-duohuo-admin" || get(objs["Secret"], "data", "token") == nil {
		t.Errorf("secret %v", objs["Secret"])
	}
	for path, want := range map[string]any{
		"readOnlyRootFilesystem":   true,
		"allowPrivilegeEscalation": false,
	} {
		if got := get(c, "securityContext", path); got != want {
			t.Errorf("securityContext.%s = %v, want %v", path, got, want)
		}
	}
	if get(c, "securityContext", "capabilities", "drop", 0) != "ALL" {
		t.Errorf("capabilities %v, want drop ALL", get(c, "securityContext", "capabilities"))
	}
	if get(pod, "securityContext", "runAsNonRoot") != true || get(pod, "securityContext", "runAsUser") != 65532 {
		t.Errorf("pod securityContext %v: want non-root", get(pod, "securityContext"))
	}
	if get(pod, "topologySpreadConstraints", 0, "topologyKey") != "topology.kubernetes.io/zone" {
		t.Errorf("topologySpreadConstraints %v: want zones first", get(pod, "topologySpreadConstraints"))
	}
	if get(d, "spec", "template", "metadata", "annotations", "checksum/config") == nil {
		t.Error("no checksum/config annotation: a config change would not roll the pods")
	}
	if get(objs["PodDisruptionBudget"], "spec", "maxUnavailable") != 1 {
		t.Errorf("pdb %v", objs["PodDisruptionBudget"])
	}
	svc := objs["Service"]
	if get(svc, "spec", "ports", 0, "name") != "public" || get(svc, "spec", "ports", 0, "port") != 8080 || get(svc, "spec", "ports", 1, "name") != "admin" {
		t.Errorf("service ports %v", get(svc, "spec", "ports"))
	}
}

func TestDaemonSetWithServiceMonitorAndExistingSecret(t *testing.T) {
	objs := render(t, "--set", "kind=DaemonSet", "--set", "hostPorts=true", "--set", "serviceMonitor.enabled=true",
		"--set", "admin.existingSecret=edge-admin", "--set", "admin.secretKey=t", "--set", "admin.host=[::]")
	if got, want := kinds(objs), []string{"ConfigMap", "DaemonSet", "Service", "ServiceMonitor"}; !slices.Equal(got, want) {
		t.Fatalf("kinds %q, want %q", got, want)
	}
	if cfg := validConfig(t, objs["ConfigMap"]); cfg.Admin.Listen != "[::]:9900" {
		t.Errorf("admin listen %q, want [::]:9900", cfg.Admin.Listen)
	}
	c := get(objs["DaemonSet"], "spec", "template", "spec", "containers", 0)
	if get(c, "ports", 0, "hostPort") != 8080 {
		t.Errorf("ports %v: want the listener on hostPort 8080", get(c, "ports"))
	}
	if get(c, "env", 0, "valueFrom", "secretKeyRef", "name") != "edge-admin" || get(c, "env", 0, "valueFrom", "secretKeyRef", "key") != "t" {
		t.Errorf("env %v", get(c, "env"))
	}
	ep := get(objs["ServiceMonitor"], "spec", "endpoints", 0)
	if get(ep, "port") != "admin" || get(ep, "path") != "/metrics" || get(ep, "authorization", "credentials", "name") != "edge-admin" {
		t.Errorf("servicemonitor endpoint %v", ep)
	}
}

// A user's configuration with services and routes still validates once the
// chart added its admin section.
func TestUserConfigValidates(t *testing.T) {
	values := filepath.Join(t.TempDir(), "values.yaml")
	err := os.WriteFile(values, []byte(`config:
  listeners:
    - name: web
      listen: 0.0.0.0:8443
  services:
    - name: api
      discovery:
        - dns:
            name: api.edge.svc.cluster.local
            type: a
            port: 9001
  routes:
    - name: all
      service: api
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	objs := render(t, "-f", values)
	cfg := validConfig(t, objs["ConfigMap"])
	if len(cfg.Services) != 1 || len(cfg.Routes) != 1 || cfg.Listeners[0].Listen != "0.0.0.0:8443" {
		t.Errorf("rendered config: %d services, %d routes, listeners %v", len(cfg.Services), len(cfg.Routes), cfg.Listeners)
	}
	if get(objs["Service"], "spec", "ports", 0, "port") != 8443 {
		t.Errorf("service ports %v", get(objs["Service"], "spec", "ports"))
	}
}

func TestBadValuesFailWithTheReason(t *testing.T) {
	for _, tt := range []struct {
		set  []string
		want string
	}{
		{[]string{"--set", "kind=StatefulSet"}, `kind is "StatefulSet": want Deployment or DaemonSet`},
		{[]string{"--set", "config.admin.listen=127.0.0.1:1"}, "config.admin is set by the chart"},
	} {
		_, errs, err := runHelm(t, append([]string{"template", "gw", "duohuo"}, tt.set...)...)
		if err == nil || !strings.Contains(errs, tt.want) {
			t.Errorf("helm template %q: err %v, stderr %q, want %q", tt.set, err, errs, tt.want)
		}
	}
}
