// Command shapes holds the heap shapes that made goheap slow out of proportion to the heap's size,
// for `make bench` (scripts/bench/run --program shapes, docs/performance.md). Standard library only,
// deterministic contents.
//
//	shapes -facts F                     # crash mode: panics (run with GOTRACEBACK=crash, ulimit -c)
//	shapes -facts F -mode wait -ready R # wait mode: writes R, sleeps until killed (for gdb's gcore)
//
// At scale 1:
//   - chain: a list of 1,000,000 nodes built by prepending, each node below the one before;
//   - queue: a container/list of 1,000,000 elements (each step of the list is another object);
//   - tables: 500,000 one-entry maps held by one slice;
//   - 50,000 goroutines parked on channel receives, each holding an item in a local;
//   - kept: every other one of 4,000,000 items, so that after the collection their spans have free
//     slots between their objects (as a long-running program's do);
//   - cache: a map[string]any of 500,000 entries.
package main

import (
	"container/list"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

type Node struct {
	Next *Node
	Val  [2]int64
}

type Item struct {
	ID   int64
	Name string
}

var (
	chain   *Node
	queue   = list.New()
	tables  []map[string]int
	workers []chan *Item
	kept    []*Item
	cache   = map[string]any{}
	release = make(chan struct{})
)

func n(scale float64, base int) int { return int(float64(base) * scale) }

func worker(c chan *Item, it *Item, started chan<- struct{}) {
	started <- struct{}{}
	select {
	case x := <-c:
		runtime.KeepAlive(x)
	case <-release:
	}
	runtime.KeepAlive(it)
}

type facts struct {
	Program        string         `json:"program"`
	GoVersion      string         `json:"go_version"`
	GOARCH         string         `json:"goarch"`
	Scale          float64        `json:"scale"`
	BuildSeconds   float64        `json:"build_seconds"`
	Counts         map[string]int `json:"counts"`
	EdgesStored    int64          `json:"edges_stored"`
	EdgesNote      string         `json:"edges_note"`
	Goroutines     int            `json:"goroutines"`
	MemStats       map[string]any `json:"memstats"`
	MemStatsNote   string         `json:"memstats_note"`
	PID            int            `json:"pid"`
	Mode           string         `json:"mode"`
	ReadyAtUnixSec int64          `json:"ready_at_unix"`
}

func main() {
	factsPath := flag.String("facts", "", "write what was built and MemStats to this JSON file")
	mode := flag.String("mode", "crash", "crash (panic, for GOTRACEBACK=crash) or wait (sleep until killed)")
	ready := flag.String("ready", "", "wait mode: file written once the heap is complete")
	scale := flag.Float64("scale", 1, "multiply the object counts by this")
	flag.Parse()
	if *factsPath == "" || (*mode != "crash" && *mode != "wait") || *scale <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	start := time.Now()
	debug.SetGCPercent(-1)
	count := map[string]int{}
	var edges int64

	for i := 0; i < n(*scale, 1000000); i++ {
		chain = &Node{Next: chain, Val: [2]int64{int64(i)}}
		count["chain_nodes"]++
		if i > 0 {
			edges++ // Next
		}
	}
	for i := 0; i < n(*scale, 1000000); i++ {
		queue.PushBack(&Item{ID: int64(i)})
		count["queue_elements"]++
		edges += 3 // the element's Value (its data word), next and prev
	}
	for i := 0; i < n(*scale, 500000); i++ {
		tables = append(tables, map[string]int{"k": i})
		count["tables"]++
		edges += 2 // the slice element and the key's bytes
	}
	started := make(chan struct{})
	for i := 0; i < n(*scale, 50000); i++ {
		c := make(chan *Item)
		workers = append(workers, c)
		go worker(c, &Item{ID: int64(i)}, started)
		<-started
		count["goroutines"]++
		edges++ // the slice element
	}
	all := make([]*Item, n(*scale, 4000000))
	for i := range all {
		all[i] = &Item{ID: int64(i), Name: strconv.Itoa(i)}
	}
	for i := 0; i < len(all); i += 2 {
		kept = append(kept, all[i])
		count["kept_items"]++
		edges += 2 // the slice element and the name's bytes
	}
	all = nil
	for i := 0; i < n(*scale, 500000); i++ {
		k := "key-" + strconv.Itoa(i)
		cache[k] = &Item{ID: int64(i), Name: k}
		count["cache_entries"]++
		edges += 3 // the key's bytes, the value's data word, the item's name
	}
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f := facts{
		Program:      "corefiles/src/shapes",
		GoVersion:    runtime.Version(),
		GOARCH:       runtime.GOARCH,
		Scale:        *scale,
		BuildSeconds: time.Since(start).Seconds(),
		Counts:       count,
		EdgesStored:  edges,
		EdgesNote: "pointers this program stored (list links, slice elements, string data pointers, " +
			"map keys and values); map internals and runtime-owned objects are not counted",
		Goroutines: runtime.NumGoroutine(),
		MemStats: map[string]any{
			"HeapAlloc": ms.HeapAlloc, "HeapObjects": ms.HeapObjects, "HeapInuse": ms.HeapInuse,
			"HeapIdle": ms.HeapIdle, "HeapReleased": ms.HeapReleased, "HeapSys": ms.HeapSys,
			"StackInuse": ms.StackInuse, "Sys": ms.Sys, "Mallocs": ms.Mallocs, "Frees": ms.Frees,
			"NumGC": ms.NumGC,
		},
		MemStatsNote: "read after two runtime.GC() and debug.FreeOSMemory(); writing this file " +
			"allocates a few more objects before the core is taken",
		PID:            os.Getpid(),
		Mode:           *mode,
		ReadyAtUnixSec: time.Now().Unix(),
	}
	out, err := json.MarshalIndent(&f, "", "  ")
	if err == nil {
		err = os.WriteFile(*factsPath, append(out, '\n'), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shapes:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "shapes: %d objects, %d bytes in the heap, built in %.1f s\n",
		ms.HeapObjects, ms.HeapAlloc, f.BuildSeconds)
	if *mode == "wait" {
		if *ready != "" {
			if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "shapes:", err)
				os.Exit(1)
			}
		}
		for {
			time.Sleep(time.Hour)
		}
	}
	panic("shapes: heap complete, dumping core")
}
