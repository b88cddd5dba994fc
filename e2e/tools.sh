#!/usr/bin/env bash
# Builds the real toolchain the end-to-end run needs from Go modules, pinned,
# into a cache keyed by version, so that a second run starts at once: the
# Pulumi CLI, the Kubernetes provider plugin, etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (with its stage files) and
# the Karpenter controller of e2e/controller (keyed by its sources too).
# Run from the repository root; prints the harness's flags naming them, one
# per line.
set -euo pipefail
export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
# The provider version the Kubernetes SDK in go.mod asks the engine for.
K8S_PROVIDER_VERSION=$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi-kubernetes/sdk/v4 | sed 's/^v//')
export GOFLAGS=-mod=mod

PULUMI_VERSION=v3.274.1
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
# The newest Kubernetes the pinned AMI release (versions.DefaultAMI) covers:
# Karpenter resolves the AMI alias for the API server's version.
KUBERNETES_VERSION=v1.36.5
KUBERNETES_STAGING_VERSION=v0.36.5
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

cache=${E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/karpenter-gpu-e2e}
mkdir -p "$cache/bin"
log() { echo "e2e build: $*" >&2; }

wrapper() { # dir: a fresh wrapper module
  rm -rf "$1"; mkdir -p "$1"
  printf 'module e2etools\n\ngo 1.26.10\n' > "$1/go.mod"
}

pulumi_bin=$cache/bin/pulumi-$PULUMI_VERSION
if [ ! -x "$pulumi_bin" ]; then
  log "Pulumi CLI $PULUMI_VERSION"
  w=$cache/src/pulumi; wrapper "$w"
  (cd "$w"
    printf 'package main\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
    go mod edit -require=github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION -require=github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION \
      -replace=github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
    rm tools.go
    go mod download github.com/pulumi/pulumi/pkg/v3
    go get github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION
    go build -o "$pulumi_bin.tmp" -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$pulumi_bin.tmp" "$pulumi_bin"
fi

k8s_bin=$cache/bin/pulumi-resource-kubernetes-$K8S_PROVIDER_VERSION
if [ ! -x "$k8s_bin" ]; then
  log "Kubernetes provider $K8S_PROVIDER_VERSION ($K8S_PROVIDER_MODULE_VERSION)"
  w=$cache/src/kubernetes; wrapper "$w"
  (cd "$w"
    go mod edit -require=github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION
    dir=$(go mod download -json github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    # The module zip lacks the two files main.go embeds (a go:generate step makes them).
    cp "$dir/cmd/pulumi-resource-kubernetes/main.go" main.go
    cp "$dir/cmd/pulumi-resource-kubernetes/schema.json" schema-embed.json
    cp "$dir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" terraform-mapping-embed.json
    chmod u+w ./*
    go mod tidy
    go build -o "$k8s_bin.tmp" -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" .)
  mv "$k8s_bin.tmp" "$k8s_bin"
fi

etcd_bin=$cache/bin/etcd-$ETCD_VERSION
if [ ! -x "$etcd_bin" ]; then
  log "etcd $ETCD_VERSION"
  w=$cache/src/etcd; wrapper "$w"
  (cd "$w"
    go mod edit -require=go.etcd.io/etcd/server/v3@$ETCD_VERSION
    go get go.etcd.io/etcd/server/v3@$ETCD_VERSION
    go build -o "$etcd_bin.tmp" go.etcd.io/etcd/server/v3)
  mv "$etcd_bin.tmp" "$etcd_bin"
fi

kube_bin=$cache/bin/kubernetes-$KUBERNETES_VERSION
if [ ! -x "$kube_bin/kube-apiserver" ]; then
  log "kube-apiserver, kube-controller-manager, kube-scheduler $KUBERNETES_VERSION"
  w=$cache/src/kubernetes-apiserver; wrapper "$w"
  (cd "$w"
    go mod edit -require=k8s.io/kubernetes@$KUBERNETES_VERSION
    dir=$(go mod download -json k8s.io/kubernetes@$KUBERNETES_VERSION | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    # k8s.io/kubernetes points its staging modules at ./staging: use their releases.
    for m in $(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$dir/go.mod"); do
      go mod edit -replace="$m=$m@$KUBERNETES_STAGING_VERSION"
    done
    go get k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION
    rm -rf "$kube_bin.tmp"; mkdir -p "$kube_bin.tmp"
    # The version the API server reports (charts compare it): a module build
    # does not stamp it.
    minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
    go build -o "$kube_bin.tmp/" -ldflags "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
  rm -rf "$kube_bin"; mv "$kube_bin.tmp" "$kube_bin"
fi

kwok_dir=$cache/bin/kwok-$KWOK_VERSION
if [ ! -x "$kwok_dir/kwok" ]; then
  log "kwok $KWOK_VERSION"
  w=$cache/src/kwok; wrapper "$w"
  rm -rf "$kwok_dir.tmp"; mkdir -p "$kwok_dir.tmp"
  (cd "$w"
    go mod edit -require=sigs.k8s.io/kwok@$KWOK_VERSION
    dir=$(go mod download -json sigs.k8s.io/kwok@$KWOK_VERSION | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    go get sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION
    go build -o "$kwok_dir.tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
    # kwok's own "fast" stages: nodes become Ready, pods Running and Ready,
    # Job pods Succeeded, deleted pods go.
    cp "$dir"/kustomize/stage/node/fast/node-*.yaml "$dir"/kustomize/stage/pod/fast/pod-*.yaml "$kwok_dir.tmp/")
  rm -rf "$kwok_dir"; mv "$kwok_dir.tmp" "$kwok_dir"
fi

# The controller module pins its own Karpenter (see e2e/controller/go.mod).
karpenter_version=$(cd e2e/controller && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' github.com/aws/karpenter-provider-aws)
sources=$(cat e2e/controller/go.mod e2e/controller/go.sum e2e/controller/*.go | sha256sum | cut -c1-12)
controller_bin=$cache/bin/karpenter-controller-$karpenter_version-$sources
if [ ! -x "$controller_bin" ]; then
  log "Karpenter controller $karpenter_version (e2e/controller, $sources)"
  (cd e2e/controller && GOFLAGS=-mod=readonly go build -o "$controller_bin.tmp" .)
  mv "$controller_bin.tmp" "$controller_bin"
fi

cat <<FLAGS
-pulumi=$pulumi_bin
-kubernetes-provider=$k8s_bin
-kubernetes-provider-version=$K8S_PROVIDER_VERSION
-etcd=$etcd_bin
-kube-apiserver=$kube_bin/kube-apiserver
-kube-controller-manager=$kube_bin/kube-controller-manager
-kube-scheduler=$kube_bin/kube-scheduler
-kwok=$kwok_dir/kwok
-kwok-stages=$kwok_dir
-karpenter-controller=$controller_bin
-karpenter-version=$karpenter_version
FLAGS
