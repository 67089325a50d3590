package rank

import "testing"

// TestIssuedQueueHoldsTheChunksInFlight: with backups on, the queue the backups scan held
// an entry for every chunk of the job until the input ran out (139 MB of heap for 2 million
// chunks at window 16); it holds about as many as are in flight, and a straggler's entry
// stays for the scan.
func TestIssuedQueueHoldsTheChunksInFlight(t *testing.T) {
	fl := newFlights(8)
	var q issuedQueue
	straggler := fl.add(Chunk{Seq: 0})
	q.push(straggler, fl.len())
	window := []*flight{}
	for seq := uint64(1); seq <= 100000; seq++ {
		f := fl.add(Chunk{Seq: seq})
		q.push(f, fl.len())
		window = append(window, f)
		if len(window) > 16 { // 16 in flight besides the straggler; the oldest finishes
			fl.remove(window[0])
			window = window[1:]
		}
		if held := len(q.q) - q.head; held > 2048 {
			t.Fatalf("after chunk %d: %d entries held, %d chunks in flight", seq, held, fl.len())
		}
	}
	if f, ok := q.find(0); !ok || f != straggler {
		t.Fatal("the straggler's entry is gone")
	}
	if _, ok := q.find(50); ok {
		t.Fatal("chunk 50, done, is found")
	}
	last := window[len(window)-1]
	if f, ok := q.find(last.c.Seq); !ok || f != last {
		t.Fatalf("chunk %d, in flight, is not found", last.c.Seq)
	}
}
