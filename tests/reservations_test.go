package tests

import (
	"strings"
	"testing"

	"karpenter-gpu/internal/fakecloud"
)

// Preview names the account's open capacity reservations that an
// on-demand pool would leave idle (Karpenter launches on-demand with the
// reservation preference none), with the terms that would use them; a pool
// that launches into them, or buys no on-demand, is not warned; an account
// that cannot be read is one warning.
func TestIdleOpenReservationsAreNamed(t *testing.T) {
	t.Parallel()
	const idle = "gpuPools[inference]: the account's open capacity reservations cr-0c3d4e5f607182930 (g6.xlarge in us-west-2a, 2 of 4 instances free) fit the pool, and their free instances stay idle, billed, while Karpenter launches on-demand beside them with the capacity reservation preference none; to launch into them add {id: cr-0c3d4e5f607182930} to nodeClasses[gpu].capacityReservations and reserved to gpuPools[inference].capacityTypes"
	inference := func(pool map[string]any, class map[string]any) map[string]any {
		p := map[string]any{"name": "inference", "gpus": []string{"l4"}, "maxGPUs": 4}
		for k, v := range pool {
			p[k] = v
		}
		c := map[string]any{"name": "gpu"}
		for k, v := range class {
			c[k] = v
		}
		return map[string]any{"nodeClasses": []any{c}, "gpuPools": []any{p}}
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		warned bool
	}{
		{"on-demand beside an open reservation", inference(nil, nil), true},
		{"launches into open reservations", inference(map[string]any{"capacityTypes": []string{"reserved", "on-demand"}},
			map[string]any{"capacityReservations": []any{map[string]any{"instanceMatchCriteria": "open"}}}), false},
		{"launches into it by ID", inference(map[string]any{"capacityTypes": []string{"reserved", "on-demand"}},
			map[string]any{"capacityReservations": []any{map[string]any{"id": "cr-0c3d4e5f607182930"}}}), false},
		{"selects other reservations", inference(map[string]any{"capacityTypes": []string{"reserved", "on-demand"}},
			map[string]any{"capacityReservations": []any{map[string]any{"instanceMatchCriteria": "targeted"}}}), true},
		{"spot only", inference(map[string]any{"capacityTypes": []string{"spot"}}, nil), false},
		{"no type of the reservation", inference(map[string]any{"gpus": []string{"a10g"}}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			warnings := strings.Join(observed(t, fakecloud.Example(clusterName), tc.values).Warnings, "\n")
			if strings.Contains(warnings, idle) != tc.warned {
				t.Errorf("warned of the idle reservation: %v, want %v; warnings:\n%s", !tc.warned, tc.warned, warnings)
			}
		})
	}

	unread := fakecloud.Example(clusterName)
	unread.OnlyCluster = true
	warnings := strings.Join(observed(t, unread, inference(nil, nil)).Warnings, "\n")
	if !strings.Contains(warnings, "the account's open capacity reservations in us-west-2 could not be read (not known offline") ||
		!strings.Contains(warnings, "allow ec2:DescribeCapacityReservations") {
		t.Errorf("no warning of unread reservations in:\n%s", warnings)
	}
}
