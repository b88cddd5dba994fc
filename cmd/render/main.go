// Command render shows what `pulumi up` would declare, without a cloud
// account (package internal/render): go run ./cmd/render -help.
package main

import (
	"os"

	"karpenter-gpu/internal/render"
)

func main() {
	os.Exit(render.Main(os.Args[1:], os.Stdout, os.Stderr))
}
