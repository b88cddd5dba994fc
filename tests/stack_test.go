package tests

import (
	"testing"
)

func TestDefaultStackRegistersEveryPart(t *testing.T) {
	cloud := mustRun(t, nil)
	for _, r := range cloud.Resources() {
		t.Logf("%s %s deps=%d", r.Type, r.Name, len(r.Dependencies))
	}
}
