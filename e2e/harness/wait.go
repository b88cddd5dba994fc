package main

import (
	"context"
	"fmt"
	"time"
)

// poll is how often a wait looks again.
const poll = 2 * time.Second

// await looks at check every poll until it reports done, the run ends or
// timeout passes; it then fails naming what it waited for and the state
// check last described. Every wait of the run is one of these.
func await(ctx context.Context, what string, timeout time.Duration, check func() (done bool, state string, err error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, state, err := check()
		switch {
		case err != nil:
			return err
		case done:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s: not after %s: %s", what, timeout, state)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (%s)", what, context.Cause(ctx), state)
		case <-time.After(poll):
		}
	}
}

// steady is check that must hold for hold without a change of state
// before await takes it as done: a batch window and a launch more, in
// case Karpenter would still act.
func steady(hold time.Duration, check func() (bool, string, error)) func() (bool, string, error) {
	var since time.Time
	var last string
	return func() (bool, string, error) {
		ok, state, err := check()
		switch {
		case err != nil || !ok:
			since = time.Time{}
			return false, state, err
		case since.IsZero() || state != last:
			since, last = time.Now(), state
		}
		return time.Since(since) >= hold, state, nil
	}
}
