// Command bench fills a Go heap of about 1 GiB with about 10 million objects for goheap's
// benchmark (scripts/bench/run, docs/performance.md), records what it built and the runtime's
// own MemStats in a JSON file, and then stops so that a core can be taken:
//
//	bench -facts F                     # crash mode: panics (run with GOTRACEBACK=crash, ulimit -c)
//	bench -facts F -mode wait -ready R # wait mode: writes R, sleeps until killed (for gdb's gcore)
//	bench -heap shapes ...             # the shapes heap instead (shapes.go)
//
// -scale S multiplies the object counts (1 gives ≈1 GiB and ≈10 M objects). The heap mixes what real
// programs hold: 64-byte structs with four pointers chained into lists, strings and []byte of many
// size classes, slices of pointers, map[string]*Node and map[int]Rec with hundreds of thousands of
// entries, thousands of small maps, []byte above 32 KiB, pointerful arrays above 128 KiB, and
// goroutines whose stacks alone keep lists alive. The contents are deterministic (fixed seed).
// Standard library only.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// Node is the small pointerful struct most of the heap is made of (64 bytes on 64-bit targets).
type Node struct {
	Next *Node
	Peer *Node
	Name string
	ID   int64
	Data []byte
}

// Leaf points back into the nodes and, for about half of the leaves, at a slice of nodes
// (48 bytes).
type Leaf struct {
	Parent *Node
	Refs   []*Node
	Val    int64
}

// Rec is the value type of the map[int]Rec maps: a struct stored inline in the map's buckets.
type Rec struct {
	L    *Leaf
	A, B int64
}

// Roots: everything below is reachable from these package variables, except the lists that
// only the blocked goroutines' stacks hold.
var (
	chains     []*Node               // heads of the node lists
	tables     [][]*Leaf             // pointerful arrays of 128-496 KiB
	byName     []map[string]*Node    // large maps with string keys
	byID       []map[int]Rec         // large maps with struct values
	smallMaps  []map[string]*Node    // many maps of 1-16 entries
	strChunks  [][]string            // strings held only by a []string
	blobChunks [][][]byte            // []byte held only by a [][]byte
	large      [][]byte              // []byte of 33-300 KiB
	valueNodes []Node                // 4096 Nodes stored by value: one 256 KiB pointerful object
	release    = make(chan struct{}) // the goroutines block on it forever
)

// Counts at scale 1.
const (
	nNodes       = 3_000_000
	chainLen     = 100
	nameFrac     = 67 // percent of nodes with a Name of their own
	dataFrac     = 40 // percent of nodes with a Data []byte
	peerFrac     = 50 // percent of nodes with a Peer
	nTables      = 24 // tables[i] has 16384 + 2048*i leaves
	nRefsFrac    = 53 // percent of leaves with a Refs slice
	nByName      = 4
	byNameLen    = 150_000
	nByID        = 2
	byIDLen      = 270_000
	nSmallMaps   = 20_000
	nStrings     = 500_000
	nBlobs       = 500_000
	chunkLen     = 1000
	nLarge       = 800
	nValueNodes  = 4096
	nGoroutines  = 6
	goroutineLen = 10_000 // nodes in each goroutine's private list
)

// rng is xorshift64*: deterministic and the same on every Go release.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + int(r.next()%uint64(hi-lo+1)) }

func (r *rng) percent(p int) bool { return int(r.next()%100) < p }

type builder struct {
	r     rng
	pool  []byte // random bytes that strings and []byte are copied from
	scale float64
	count map[string]int
	edges int64 // pointers stored into heap objects by this program
}

func (b *builder) n(base int) int {
	v := int(float64(base)*b.scale + 0.5)
	if v < 1 {
		v = 1
	}
	return v
}

func (b *builder) str(lo, hi int) string {
	l := b.r.between(lo, hi)
	o := b.r.between(0, len(b.pool)-l)
	b.count["strings"]++
	return string(b.pool[o : o+l]) // a copy: a heap object of its own
}

// blobSize draws a []byte length: three quarters small, most of the rest up to 768 bytes, a few
// up to 4 KiB, so that every small size class is populated.
func (b *builder) blobSize() int {
	switch p := b.r.next() % 100; {
	case p < 75:
		return b.r.between(8, 96)
	case p < 98:
		return b.r.between(97, 768)
	default:
		return b.r.between(769, 4096)
	}
}

// blob returns a []byte of n bytes with every byte written, so that its pages are in the core.
func (b *builder) blob(n int) []byte {
	buf := make([]byte, n)
	for off := 0; off < n; {
		o := b.r.between(0, len(b.pool)-1)
		off += copy(buf[off:], b.pool[o:])
	}
	return buf
}

func (b *builder) build() {
	all := make([]*Node, 0, b.n(nNodes)) // temporary index for random Peers; garbage afterwards
	nChains := b.n(nNodes) / chainLen
	chains = make([]*Node, nChains)
	b.edges += int64(nChains)
	for c := 0; c < nChains; c++ {
		var prev *Node
		for i := 0; i < chainLen; i++ {
			n := b.node(all)
			all = append(all, n)
			if prev == nil {
				chains[c] = n
			} else {
				prev.Next = n
				b.edges++
			}
			prev = n
		}
	}

	nLeaves := 0
	tables = make([][]*Leaf, nTables)
	b.edges += nTables
	for t := range tables {
		tables[t] = make([]*Leaf, b.n(16384+2048*t))
		b.count["tables"]++
		for i := range tables[t] {
			tables[t][i] = b.leaf(all)
			b.edges++
			nLeaves++
		}
	}

	byName = make([]map[string]*Node, nByName)
	b.edges += nByName
	for m := range byName {
		byName[m] = make(map[string]*Node)
		b.count["maps"]++
		for i := 0; i < b.n(byNameLen); i++ {
			byName[m][fmt.Sprintf("k%d/%07d", m, i)] = all[b.r.next()%uint64(len(all))]
			b.count["strings"]++
			b.edges += 2
		}
	}
	byID = make([]map[int]Rec, nByID)
	b.edges += nByID
	for m := range byID {
		byID[m] = make(map[int]Rec)
		b.count["maps"]++
		for i := 0; i < b.n(byIDLen); i++ {
			byID[m][int(b.r.next()>>1)] = Rec{L: b.leaf(all), A: int64(i), B: int64(m)}
			b.edges++
			nLeaves++
		}
	}
	b.count["leaves"] = nLeaves

	smallMaps = make([]map[string]*Node, b.n(nSmallMaps))
	for m := range smallMaps {
		sm := make(map[string]*Node)
		for i, k := 0, b.r.between(1, 16); i < k; i++ {
			n := all[b.r.next()%uint64(len(all))]
			k := n.Name + fmt.Sprint(i)
			if _, dup := sm[k]; dup {
				continue
			}
			sm[k] = n
			b.count["strings"]++
			b.edges += 2
		}
		smallMaps[m] = sm
		b.count["maps"]++
		b.edges++
	}

	strChunks = make([][]string, (b.n(nStrings)+chunkLen-1)/chunkLen)
	for c := range strChunks {
		strChunks[c] = make([]string, chunkLen)
		for i := range strChunks[c] {
			strChunks[c][i] = b.str(1, 120)
		}
		b.count["chunks"]++
		b.edges += 1 + chunkLen
	}
	blobChunks = make([][][]byte, (b.n(nBlobs)+chunkLen-1)/chunkLen)
	for c := range blobChunks {
		blobChunks[c] = make([][]byte, chunkLen)
		for i := range blobChunks[c] {
			blobChunks[c][i] = b.blob(b.blobSize())
			b.count["blobs"]++
		}
		b.count["chunks"]++
		b.edges += 1 + chunkLen
	}

	large = make([][]byte, b.n(nLarge))
	for i := range large {
		large[i] = b.blob(b.r.between(33<<10, 300<<10))
		b.count["large_blobs"]++
		b.edges++
	}

	valueNodes = make([]Node, nValueNodes)
	for i := range valueNodes {
		valueNodes[i].ID = int64(i)
		valueNodes[i].Next = all[b.r.next()%uint64(len(all))]
		b.edges++
	}

	// Goroutines whose private lists only their stacks keep alive.
	started := make(chan struct{})
	for g := 0; g < nGoroutines; g++ {
		go b.holder(g, b.n(goroutineLen), started)
		<-started
	}
}

func (b *builder) node(all []*Node) *Node {
	n := &Node{ID: int64(b.count["nodes"])}
	b.count["nodes"]++
	if b.r.percent(nameFrac) {
		n.Name = b.str(4, 64)
		b.edges++
	}
	if b.r.percent(dataFrac) {
		n.Data = b.blob(b.blobSize())
		b.count["blobs"]++
		b.edges++
	}
	if len(all) > 0 && b.r.percent(peerFrac) {
		n.Peer = all[b.r.next()%uint64(len(all))]
		b.edges++
	}
	return n
}

func (b *builder) leaf(all []*Node) *Leaf {
	l := &Leaf{Parent: all[b.r.next()%uint64(len(all))], Val: int64(b.r.next() >> 1)}
	b.edges++
	if b.r.percent(nRefsFrac) {
		l.Refs = make([]*Node, b.r.between(1, 32))
		for i := range l.Refs {
			l.Refs[i] = all[b.r.next()%uint64(len(all))]
		}
		b.count["ref_slices"]++
		b.edges += 1 + int64(len(l.Refs))
	}
	return l
}

// holder builds a list that only its own stack references, reports, and blocks forever.
func (b *builder) holder(id, n int, started chan<- struct{}) {
	var head *Node
	for i := 0; i < n; i++ {
		head = &Node{Next: head, ID: int64(id)<<32 | int64(i)}
		b.count["goroutine_nodes"]++
		if i > 0 {
			b.edges++
		}
	}
	started <- struct{}{}
	<-release
	runtime.KeepAlive(head)
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
	heap := flag.String("heap", "bench", "bench (the ≈1 GiB heap) or shapes (shapes.go)")
	flag.Parse()
	if *factsPath == "" || (*mode != "crash" && *mode != "wait") || *scale <= 0 || (*heap != "bench" && *heap != "shapes") {
		flag.Usage()
		os.Exit(2)
	}

	start := time.Now()
	debug.SetGCPercent(-1) // build without collections; one full GC settles the heap below
	b := &builder{r: 0x9e3779b97f4a7c15, scale: *scale, count: map[string]int{}}
	if *heap == "shapes" {
		b.buildShapes()
	} else {
		b.pool = make([]byte, 1<<16)
		for i := range b.pool {
			b.pool[i] = byte('a' + b.r.next()%26)
		}
		b.build()
		b.pool = nil
	}
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	program := "corefiles/src/bench"
	if *heap == "shapes" {
		program += " -heap shapes"
	}
	f := facts{
		Program:      program,
		GoVersion:    runtime.Version(),
		GOARCH:       runtime.GOARCH,
		Scale:        *scale,
		BuildSeconds: time.Since(start).Seconds(),
		Counts:       b.count,
		EdgesStored:  b.edges,
		EdgesNote: "non-nil pointers this program stored into heap objects (struct fields, slice " +
			"elements, string and slice data pointers, map keys and values); pointers inside map " +
			"internals and runtime-owned objects are not counted",
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
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "bench: %d objects, %d bytes in the heap, built in %.1f s\n",
		ms.HeapObjects, ms.HeapAlloc, f.BuildSeconds)

	if *mode == "wait" {
		if *ready != "" {
			if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
				os.Exit(1)
			}
		}
		for {
			time.Sleep(time.Hour)
		}
	}
	panic("bench: heap complete, dumping core")
}
