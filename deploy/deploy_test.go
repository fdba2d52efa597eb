package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/credflow/credflow/internal/config"
	"github.com/credflow/credflow/internal/metadb/metadbtest"
	"github.com/credflow/credflow/internal/server/servertest"
)

// unitSettings reads a systemd unit's Key=Value lines, by section.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not Key=Value: %q", path, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("systemd", "credflow.service")
	s := unitSettings(t, path)
	for key, want := range map[string]string{
		"Service.DynamicUser":           "yes",
		"Service.ProtectSystem":         "strict",
		"Service.NoNewPrivileges":       "yes",
		"Service.StateDirectory":        "credflow",
		"Service.ProtectHome":           "yes",
		"Service.PrivateTmp":            "yes",
		"Service.UMask":                 "0077",
		"Service.KillSignal":            "SIGTERM",
		"Service.ExecStart":             "/usr/local/bin/credflow serve --config /etc/credflow/credflow.yaml",
		"Service.CapabilityBoundingSet": "",
	} {
		if got := s[key]; !slices.Contains(got, want) {
			t.Errorf("%s: %s = %q, want %q", path, key, got, want)
		}
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		tool, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("SKIPPED: systemd-analyze is not installed; the unit was only parsed")
		}
		// verify wants the unit's programs to exist: run it on a copy
		// that names a program that does (this test's own binary).
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		unit, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		copyPath := filepath.Join(t.TempDir(), "credflow.service")
		if err := os.WriteFile(copyPath, bytes.ReplaceAll(unit, []byte("/usr/local/bin/credflow"), []byte(self)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tool, "verify", copyPath)
		out, err := cmd.CombinedOutput()
		// verify only warns of a setting it cannot parse, and exits 0.
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	t.Run("its configuration file", func(t *testing.T) {
		checkConfig(t, filepath.Join("systemd", "credflow.yaml"), nil)
	})
}

// checkConfig checks a configuration file as credflow config check does,
// with env as the environment.
func checkConfig(t *testing.T, path string, env map[string]string) config.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return checkConfigData(t, path, data, env)
}

func checkConfigData(t *testing.T, name string, data []byte, env map[string]string) config.Config {
	t.Helper()
	f, err := config.ParseFile(data)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	c := config.Defaults()
	f.Apply(&c)
	c.ApplyEnv(func(k string) string { return env[k] })
	if err := c.Validate(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

// k8sObject is the part of a Kubernetes object the tests read.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec       yaml.Node         `yaml:"spec"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Resources  []string          `yaml:"resources"`
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	InitContainers []container `yaml:"initContainers"`
	Containers     []container `yaml:"containers"`
	Volumes        []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

type container struct {
	Name string   `yaml:"name"`
	Args []string `yaml:"args"`
	Env  []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe  probe `yaml:"readinessProbe"`
	LivenessProbe   probe `yaml:"livenessProbe"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []mount `yaml:"volumeMounts"`
}

type mount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// readManifests decodes every document of every file kustomization.yaml
// lists, by kind.
func readManifests(t *testing.T) map[string]k8sObject {
	t.Helper()
	dir := "kubernetes"
	var kust k8sObject
	decodeAll(t, filepath.Join(dir, "kustomization.yaml"), func(o k8sObject) { kust = o })
	if len(kust.Resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "kustomization.yaml" && !slices.Contains(kust.Resources, e.Name()) {
			t.Errorf("%s is not in kustomization.yaml", e.Name())
		}
	}
	out := map[string]k8sObject{}
	for _, name := range kust.Resources {
		decodeAll(t, filepath.Join(dir, name), func(o k8sObject) {
			if _, dup := out[o.Kind]; dup {
				t.Errorf("two objects of kind %s", o.Kind)
			}
			out[o.Kind] = o
		})
	}
	return out
}

func decodeAll(t *testing.T, path string, each func(k8sObject)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		each(o)
	}
}

func TestKubernetesManifests(t *testing.T) {
	objs := readManifests(t)
	dep, svc, secret, cm := objs["Deployment"], objs["Service"], objs["Secret"], objs["ConfigMap"]
	for kind, o := range map[string]k8sObject{"Deployment": dep, "Service": svc, "Secret": secret, "ConfigMap": cm} {
		if o.Metadata.Name == "" {
			t.Fatalf("no %s", kind)
		}
	}

	var spec struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	}
	if err := dep.Spec.Decode(&spec); err != nil {
		t.Fatal(err)
	}
	if spec.Replicas < 2 {
		t.Errorf("replicas %d: want several", spec.Replicas)
	}
	pod := spec.Template.Spec
	if !pod.SecurityContext.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want credflow alone", len(pod.Containers))
	}
	c := pod.Containers[0]

	// Readiness on /readyz and liveness on /healthz, which a server
	// answers with 200 when it is ready.
	inst := servertest.Start(t, metadbtest.Engines(t)[0])
	for what, p := range map[string]struct{ got, want string }{
		"readiness": {c.ReadinessProbe.HTTPGet.Path, "/readyz"}, "liveness": {c.LivenessProbe.HTTPGet.Path, "/healthz"},
	} {
		if p.got != p.want {
			t.Errorf("%s probe on %q, want %q", what, p.got, p.want)
		}
		res, err := http.Get(inst.URL + p.got)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("a ready server answers GET %s with %d", p.got, res.StatusCode)
		}
	}
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if c.ReadinessProbe.HTTPGet.Port != "http" || ports["http"] == 0 {
		t.Errorf("probes on port %q, ports %v", c.ReadinessProbe.HTTPGet.Port, ports)
	}
	if c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation || !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("the container may escalate privileges or write its root file system")
	}

	// The configuration file comes from the ConfigMap and passes the
	// server's own checks, with the database from the Secret; it listens
	// on the ports the container declares.
	if !slices.Equal(c.Args, []string{"serve", "--config", "/etc/credflow/credflow.yaml"}) {
		t.Errorf("args %q", c.Args)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name != secret.Metadata.Name {
			t.Errorf("variable %s is not from the Secret", e.Name)
			continue
		}
		v, ok := secret.StringData[ref.Key]
		if !ok {
			t.Errorf("variable %s names the Secret's key %q, which it lacks", e.Name, ref.Key)
		}
		env[e.Name] = v
	}
	cfg := checkConfigData(t, "the ConfigMap's credflow.yaml", []byte(cm.Data["credflow.yaml"]), env)
	if !strings.HasPrefix(cfg.Database, "postgres://") {
		t.Errorf("database %q: the replicas must share PostgreSQL", cfg.Database)
	}
	if !strings.HasSuffix(cfg.Addr, ":"+strconv.Itoa(ports["http"])) || !strings.HasSuffix(cfg.MetricsAddr, ":"+strconv.Itoa(ports["metrics"])) {
		t.Errorf("listens on %s and %s, the container declares %v", cfg.Addr, cfg.MetricsAddr, ports)
	}
	if cfg.DataDir == "" || cfg.MasterKeyFile == "" {
		t.Fatalf("data dir %q, master key file %q", cfg.DataDir, cfg.MasterKeyFile)
	}
	mounted := map[string]string{} // path -> volume
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = m.Name
	}
	for _, dir := range []string{"/etc/credflow", cfg.DataDir, filepath.Dir(cfg.MasterKeyFile)} {
		if mounted[dir] == "" {
			t.Errorf("%s is not mounted (read-only root file system)", dir)
		}
	}
	// The master key comes from the Secret, through the init container
	// that makes it private.
	if _, ok := secret.StringData[filepath.Base(cfg.MasterKeyFile)]; !ok {
		t.Errorf("the Secret holds no %s", filepath.Base(cfg.MasterKeyFile))
	}
	secretVolume := ""
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == secret.Metadata.Name {
			secretVolume = v.Name
		}
	}
	if len(pod.InitContainers) != 1 || !slices.ContainsFunc(pod.InitContainers[0].VolumeMounts, func(m mount) bool { return m.Name == secretVolume }) {
		t.Errorf("no init container reads the Secret's volume %q", secretVolume)
	}

	// The Service reaches the pods.
	var s struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	if err := svc.Spec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Selector {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, which the pods lack", k, v)
		}
	}
	for k, v := range spec.Selector.MatchLabels {
		if spec.Template.Metadata.Labels[k] != v {
			t.Errorf("the Deployment selects %s=%s, which its pods lack", k, v)
		}
	}
	if len(s.Ports) != 1 || ports[s.Ports[0].TargetPort] == 0 {
		t.Errorf("the Service targets %v, the container declares %v", s.Ports, ports)
	}
}
