package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Requirement is a NodePool requirement: a node selector requirement with
// Karpenter's operators (In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte).
type Requirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values"`
}

// Labels are the well-known labels Karpenter gives a node of this type, as
// far as they tell instance types apart.
func (t InstanceType) Labels() map[string]string {
	return map[string]string{
		"node.kubernetes.io/instance-type":            t.Name,
		"karpenter.k8s.aws/instance-family":           t.Family,
		"kubernetes.io/arch":                          t.Arch,
		"karpenter.k8s.aws/instance-cpu":              strconv.Itoa(t.VCPUs),
		"karpenter.k8s.aws/instance-memory":           strconv.Itoa(t.MemoryMi),
		"karpenter.k8s.aws/instance-gpu-name":         t.GPUName,
		"karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
		"karpenter.k8s.aws/instance-gpu-count":        strconv.Itoa(t.GPUCount),
		"karpenter.k8s.aws/instance-gpu-memory":       strconv.Itoa(t.GPUMemoryMi),
	}
}

// Matches tells whether the type meets the requirement. Requirements on
// labels that do not tell instance types apart (capacity type, zone, the
// pool's own labels) hold for every type.
func (t InstanceType) Matches(r Requirement) (bool, error) {
	value, known := t.Labels()[r.Key]
	if !known {
		return true, nil
	}
	switch r.Operator {
	case "In":
		return slices.Contains(r.Values, value), nil
	case "NotIn":
		return !slices.Contains(r.Values, value), nil
	case "Exists":
		return true, nil
	case "DoesNotExist":
		return false, nil
	case "Gt", "Lt", "Gte", "Lte":
		if len(r.Values) != 1 {
			return false, fmt.Errorf("%s %s wants one value, got %v", r.Key, r.Operator, r.Values)
		}
		bound, err := strconv.Atoi(r.Values[0])
		if err != nil {
			return false, fmt.Errorf("%s %s %q: not a whole number", r.Key, r.Operator, r.Values[0])
		}
		n, err := strconv.Atoi(value)
		if err != nil {
			return false, nil
		}
		switch r.Operator {
		case "Gt":
			return n > bound, nil
		case "Lt":
			return n < bound, nil
		case "Gte":
			return n >= bound, nil
		default:
			return n <= bound, nil
		}
	}
	return false, fmt.Errorf("unknown operator %q", r.Operator)
}

// Match returns the catalogue's types that meet every requirement. When
// none does, the error is a *NoMatchError naming the label whose
// requirements rule out the fewest types meeting all the others: the
// narrowest explanation. A label's requirements go together (a GPU count
// of exactly 2 is Gte 2 and Lte 2; dropping one alone explains nothing).
func Match(reqs []Requirement) ([]InstanceType, error) {
	types, err := matchAll(reqs, "")
	if err != nil || len(types) > 0 {
		return types, err
	}
	e := &NoMatchError{Requirements: reqs}
	for i, r := range reqs {
		if slices.ContainsFunc(reqs[:i], func(earlier Requirement) bool { return earlier.Key == r.Key }) {
			continue
		}
		others, _ := matchAll(reqs, r.Key)
		if len(others) > 0 && (e.Blame == nil || len(others) < len(e.Spared)) {
			e.Blame, e.Spared = &reqs[i], others
		}
	}
	return nil, e
}

// NoMatchError says why no type meets a set of requirements.
type NoMatchError struct {
	Requirements []Requirement
	// Blame is the first requirement on the label whose requirements alone
	// rule out Spared, the types that meet all the others; nil when no
	// single label does.
	Blame  *Requirement
	Spared []InstanceType
}

func (e *NoMatchError) Error() string {
	if e.Blame == nil {
		return fmt.Sprintf("no instance type meets even all but one of these requirements: %v", e.Requirements)
	}
	var blamed []string
	for _, r := range e.Requirements {
		if r.Key == e.Blame.Key {
			blamed = append(blamed, fmt.Sprintf("%s %s %v", r.Key, r.Operator, r.Values))
		}
	}
	return fmt.Sprintf("requirement %s rules out the %d instance types that meet the others (%s)", strings.Join(blamed, " and "), len(e.Spared), Abbreviate(Names(e.Spared)))
}

// SparedValues are the distinct values the spared types have for the
// blamed requirement's label, sorted: what the requirement would have to
// allow to let them in.
func (e *NoMatchError) SparedValues() []string {
	if e.Blame == nil {
		return nil
	}
	var out []string
	for _, t := range e.Spared {
		if v, ok := t.Labels()[e.Blame.Key]; ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, compareNumeric)
	return out
}

// compareNumeric orders whole numbers by value, anything else as text.
func compareNumeric(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return x - y
	}
	return strings.Compare(a, b)
}

// Families are the instance families of the catalogue, sorted.
func Families() []string {
	var out []string
	for _, t := range InstanceTypes {
		out = append(out, t.Family)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Names are the types' names, in order.
func Names(types []InstanceType) []string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = t.Name
	}
	return names
}

// matchAll returns the types that meet every requirement but those on
// the label skip.
func matchAll(reqs []Requirement, skip string) ([]InstanceType, error) {
	var out []InstanceType
next:
	for _, t := range InstanceTypes {
		for _, r := range reqs {
			if r.Key == skip {
				continue
			}
			ok, err := t.Matches(r)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue next
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// Abbreviate lists up to six names and counts the rest.
func Abbreviate(names []string) string {
	if len(names) > 6 {
		return fmt.Sprintf("%s, … %d more", strings.Join(names[:6], ", "), len(names)-6)
	}
	return strings.Join(names, ", ")
}

// CostCeiling is the most a pool of maxGPUs GPUs can cost per hour on
// demand at prices: the highest price per GPU among the types × maxGPUs,
// with the type that sets it. ok is false when no type has a price.
func CostCeiling(types []InstanceType, maxGPUs int, prices Prices) (usdPerHour float64, setBy string, ok bool) {
	var worst float64
	for _, t := range types {
		price, priced := prices.USD[t.Name]
		if !priced || t.GPUCount == 0 {
			continue
		}
		if perGPU := price / float64(t.GPUCount); perGPU > worst {
			worst, setBy, ok = perGPU, t.Name, true
		}
	}
	return worst * float64(maxGPUs), setBy, ok
}

// VCPUsNeeded is the most vCPUs maxGPUs GPUs can take among the types:
// whole instances of one type, ceil(maxGPUs / GPUs) of them. The quota a
// pool needs to reach its limit in the worst case.
func VCPUsNeeded(types []InstanceType, maxGPUs int) (vcpus int, setBy string) {
	for _, t := range types {
		if t.GPUCount == 0 {
			continue
		}
		instances := (maxGPUs + t.GPUCount - 1) / t.GPUCount
		if n := instances * t.VCPUs; n > vcpus {
			vcpus, setBy = n, t.Name
		}
	}
	return vcpus, setBy
}
