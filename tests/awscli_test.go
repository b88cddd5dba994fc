package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"karpenter-gpu/e2e"
	"karpenter-gpu/kubeconfig"
)

// The stand-in AWS CLI answers the command the stack's kubeconfig runs,
// with an ExecCredential client-go accepts, and nothing else.
func TestAWSCLIAnswersTheKubeconfigsCommand(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "aws")
	if err := os.WriteFile(script, []byte(e2e.AWSCLI("us-west-2", "ml-dev", "t0ken")), 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := kubeconfig.ForEKS("ml-dev", "https://127.0.0.1:6443", "", "us-west-2")
	if err != nil {
		t.Fatal(err)
	}
	var kubeconfig struct {
		Users []struct {
			User struct {
				Exec struct {
					Command string   `json:"command"`
					Args    []string `json:"args"`
				} `json:"exec"`
			} `json:"user"`
		} `json:"users"`
	}
	if err := json.Unmarshal([]byte(raw), &kubeconfig); err != nil {
		t.Fatal(err)
	}
	exe := kubeconfig.Users[0].User.Exec
	if exe.Command != "aws" {
		t.Fatalf("kubeconfig runs %q", exe.Command)
	}
	out, err := exec.Command(script, exe.Args...).Output()
	if err != nil {
		t.Fatalf("aws %s: %v", strings.Join(exe.Args, " "), err)
	}
	var cred struct {
		APIVersion, Kind string
		Status           struct{ Token string }
	}
	if err := json.Unmarshal(out, &cred); err != nil || cred.Kind != "ExecCredential" || cred.Status.Token != "t0ken" || cred.APIVersion != "client.authentication.k8s.io/v1beta1" {
		t.Fatalf("credential %s (%v)", out, err)
	}
	if err := exec.Command(script, "--region", "us-west-2", "eks", "get-token", "--cluster-name", "other", "--output", "json").Run(); err == nil {
		t.Fatal("answered for another cluster")
	}
}
