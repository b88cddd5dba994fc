// Command timeline prints, for every pod that asks for nvidia.com/gpu, the
// seconds from its creation to the NodeClaim created, the instance
// launched, the node registered and initialized, the pod scheduled and its
// container started, with the node's instance type, capacity type and pool.
//
//	go run ./cmd/timeline                 # the cluster of the current kubeconfig context
//	go run ./cmd/timeline -json FILE...   # files saved with kubectl get … -o json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"karpenter-gpu/timeline"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("timeline", flag.ContinueOnError)
	flags.SetOutput(stderr)
	asJSON := flags.Bool("json", false, "print a JSON array instead of a table")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	objects, err := load(flags.Args())
	if err == nil {
		records := timeline.Build(objects)
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			err = enc.Encode(records)
		} else {
			err = timeline.WriteTable(stdout, records)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "timeline:", err)
		return 1
	}
	return 0
}

// load reads the files, or the cluster kubectl would talk to.
func load(files []string) (timeline.Objects, error) {
	var o timeline.Objects
	if len(files) > 0 {
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return o, err
			}
			if err := o.Add(raw); err != nil {
				return o, fmt.Errorf("%s: %w", f, err)
			}
		}
		return o, nil
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		return o, err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return o, err
	}
	return timeline.Read(context.Background(), client)
}
