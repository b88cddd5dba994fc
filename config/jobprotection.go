// Job protection: what a pool's promise to let jobs finish asks of its
// NodePool, derived before validation.

package config

import (
	"cmp"
	"fmt"
	"time"
)

// defaultPodGracePeriod is Kubernetes' terminationGracePeriodSeconds.
const defaultPodGracePeriod = "30s"

// applyJobProtection derives, for each pool that protects jobs, what
// Karpenter needs to keep that promise, where the configuration leaves it
// open, and refuses what breaks it. Karpenter never evicts a
// karpenter.sh/do-not-disrupt pod to consolidate; drift and expiration
// drain such a pod only once the NodeClaim's terminationGracePeriod runs
// out (a set grace period makes drift go ahead despite the annotation), so
// it must outlast the longest job plus the pod's own grace period. A node
// that expires under a job is no breach: its drain waits that grace period
// too (what it costs meanwhile is a preview warning, not a refusal).
func (c *Stack) applyJobProtection(p *problems) {
	for i := range c.GPUPools {
		pool := &c.GPUPools[i]
		jp := &pool.JobProtection
		if !jp.Enabled() {
			if jp.PodGracePeriod != "" {
				p.add(fmt.Sprintf("gpuPools[%s].jobProtection.longestJob", pool.Name), nil, "set the longest job the pool must let finish, or leave jobProtection out")
			}
			continue
		}
		key := fmt.Sprintf("gpuPools[%s]", pool.Name)
		jp.PodGracePeriod = cmp.Or(jp.PodGracePeriod, defaultPodGracePeriod)
		longest, errLongest := time.ParseDuration(jp.LongestJob)
		if !durationPattern.MatchString(jp.LongestJob) || errLongest != nil || longest <= 0 {
			p.add(key+".jobProtection.longestJob", jp.LongestJob, "want a duration such as 72h")
			continue
		}
		grace, errGrace := time.ParseDuration(jp.PodGracePeriod)
		if !durationPattern.MatchString(jp.PodGracePeriod) || errGrace != nil {
			p.add(key+".jobProtection.podGracePeriod", jp.PodGracePeriod, "want a duration such as 30s: the longest terminationGracePeriodSeconds of the job's pods")
			continue
		}
		need := longest + grace
		if !p.set[key+".terminationGracePeriod"] {
			pool.TerminationGracePeriod = karpenterDuration(need)
		} else if tgp, err := time.ParseDuration(pool.TerminationGracePeriod); err == nil && tgp < need {
			p.add(key+".terminationGracePeriod", pool.TerminationGracePeriod, fmt.Sprintf(
				"jobProtection needs at least longestJob + podGracePeriod (%s): drift and expiration end a do-not-disrupt pod once the grace period runs out; raise it or leave it out", karpenterDuration(need)))
		}
	}
}

// karpenterDuration writes d as Karpenter's duration pattern wants it
// (hours, minutes, seconds; no fractions).
func karpenterDuration(d time.Duration) string {
	out := ""
	for _, unit := range []struct {
		size   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / unit.size; n > 0 {
			out += fmt.Sprintf("%d%s", n, unit.suffix)
			d -= n * unit.size
		}
	}
	return cmp.Or(out, "0s")
}
