// bigheap builds a heap of a chosen size and parks a chosen number of goroutines, prints
// one MANIFEST line with the runtime's own figures, then waits to be dumped (SIGABRT
// with GOTRACEBACK=crash gives a kernel core).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

type Record struct {
	ID      int64
	Name    string
	Payload []byte
	Next    *Record
}

// Node is one element of the deep case: a single linked list, the worst shape for
// marking, root paths and dominators (every node is dominated by the one before it).
type Node struct {
	Value int64
	Next  *Node
}

type Bucket struct {
	Items []*Record
	Index map[int64]*Record
}

var (
	buckets []*Bucket
	list    *Node
	parked  = make(chan struct{})
)

func park(depth int) {
	if depth > 0 {
		park(depth - 1)
		return
	}
	<-parked
}

func main() {
	goroutines := flag.Int("goroutines", 0, "goroutines to park")
	objects := flag.Int("objects", 0, "approximate number of heap objects to keep")
	listLen := flag.Int("list", 0, "nodes of one linked list held by a global (the deep case)")
	flag.Parse()

	for i := 0; i < *listLen; i++ {
		list = &Node{Value: int64(i), Next: list}
	}

	// Each record costs about 3 objects (record, name, payload); buckets add a slice and a map.
	records := *objects / 3
	perBucket := 1000
	for i := 0; i < records; i += perBucket {
		b := &Bucket{Index: make(map[int64]*Record, 8)}
		var prev *Record
		for j := 0; j < perBucket && i+j < records; j++ {
			r := &Record{ID: int64(i + j), Name: fmt.Sprintf("record-%d", i+j), Payload: make([]byte, 16+(i+j)%64)}
			r.Next = prev
			prev = r
			b.Items = append(b.Items, r)
			if j%128 == 0 {
				b.Index[r.ID] = r
			}
		}
		buckets = append(buckets, b)
	}
	go func() { // a timer keeps the runtime from declaring a deadlock
		for {
			time.Sleep(time.Hour)
		}
	}()
	for i := 0; i < *goroutines; i++ {
		go park(i % 8)
	}
	for runtime.NumGoroutine() < *goroutines+2 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out, _ := json.Marshal(map[string]any{
		"go_version": runtime.Version(), "pid": os.Getpid(), "num_goroutine": runtime.NumGoroutine(),
		"memstats": map[string]uint64{"HeapAlloc": ms.HeapAlloc, "HeapObjects": ms.HeapObjects, "HeapInuse": ms.HeapInuse},
	})
	fmt.Printf("MANIFEST %s\n", out)
	os.Stdout.Sync()
	select {}
}
