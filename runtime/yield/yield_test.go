package yield

import (
	"testing"
	"time"
)

// The clock is read once every 16 calls, and a yield happens only when
// Interval has passed since the last one.
func TestYieldsOncePerInterval(t *testing.T) {
	time.Sleep(2 * Interval)
	before := last.Load()
	for i := 0; i < 16; i++ {
		Maybe()
	}
	first := last.Load()
	if first == before {
		t.Fatalf("16 calls after %v of quiet did not yield", 2*Interval)
	}
	for i := 0; i < 16*10; i++ {
		Maybe()
	}
	if l := last.Load(); l != first && time.Duration(l-first) < Interval {
		t.Fatalf("yielded again %v after the last yield (interval %v)", time.Duration(l-first), Interval)
	}

	var n uint32
	time.Sleep(2 * Interval)
	before = last.Load()
	for i := 0; i < 15; i++ {
		Owned(&n)
	}
	if last.Load() != before {
		t.Fatal("Owned looked at the clock before its 16th call")
	}
	Owned(&n)
	if last.Load() == before {
		t.Fatal("Owned's 16th call after a quiet interval did not yield")
	}
}
