// Command leaky is the fixture program of goheap's core-file corpus.
//
// It plants the heap-retention patterns goheap is meant to find (a global
// cache, nested maps, a map that kept its buckets after deletes, goroutines
// blocked forever on channels, tickers and timers that are never stopped, a
// churned sync.Map, a map shared by several structs, a chain of interfaces,
// and ordinary noise), writes what it built to a facts file, writes a
// runtime heap dump, and then stops so that a core can be taken:
//
//	leaky -facts F -heapdump H                  # crash mode: SIGABRT to itself, dumps core
//	leaky -facts F -heapdump H -mode wait -ready R
//	                                            # wait mode: writes R, blocks forever
//
// Run it with GOTRACEBACK=crash and a core size limit in crash mode. The
// facts schema is documented in docs/fixtures.md. Standard library only.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const schemaVersion = 1

// ---------------------------------------------------------------------------
// Types planted on the heap.

// Payload is the value type of most main.cache entries.
type Payload struct {
	ID      int
	Name    string
	Buf     *bytes.Buffer
	Meta    map[string]interface{}
	Created int64
}

// Session is the value type of main.sessions.
type Session struct {
	ID    int64
	User  string
	Seen  int64
	Flags uint32
}

// Record is the value type of the map shared by main.holderA/B/C.
type Record struct {
	ID   int
	Name string
	Data []byte
}

type holder struct {
	name string
	m    map[string]*Record
	hits int
}

// RegEntry is the value type stored in main.registry.
type RegEntry struct {
	Key   string
	Value []byte
	Gen   int
}

// Iface is implemented by the links of the main.root chain.
type Iface interface{ Name() string }

// Outer is the head of the main.root chain.
type Outer struct {
	Inner Iface
	Tag   string
}

// Mid is a middle link of the main.root chain.
type Mid struct {
	Next  Iface
	Level int
	Blob  []byte
}

// Leaf ends the main.root chain.
type Leaf struct {
	Data []byte
	N    int
}

func (m *Mid) Name() string  { return "mid" + strconv.Itoa(m.Level) }
func (l *Leaf) Name() string { return "leaf" }

// Node is an element of the linked list main.list.
type Node struct {
	Next  *Node
	Value int
	Label string
}

// Noise holds ordinary data.
type Noise struct {
	Strings []string
	Ints    []int
	Points  []Point
	Blobs   [][]byte
}

// Point is a small pointer-free struct.
type Point struct{ X, Y, Z float64 }

// ---------------------------------------------------------------------------
// The globals goheap should report.

var (
	cache    map[string]interface{}
	index    map[string]map[string]map[string]int
	sessions map[int64]*Session
	registry sync.Map
	holderA  holder
	holderB  *holder
	holderC  struct {
		label string
		m     map[string]*Record
	}
	root  interface{}
	list  *Node
	noise *Noise

	// Synchronisation objects the planted goroutines block on.
	neverSent   []chan int
	fullChan    chan []byte
	tickerQuit  chan struct{}
	lockedMu    sync.Mutex
	setupReport chan goroutineInfo

	readyMsg = []byte("ready\n")

	// Output files stay referenced so that no finalizer closes them.
	factsFile, dumpFile, readyFile *os.File

	// facts stays referenced until the capture: it exists when MemStats are
	// read, so it must still exist when the heap dump and the core are taken.
	facts *Facts
	check runtime.MemStats
)

// ---------------------------------------------------------------------------
// Facts.

type sample struct {
	addr  uintptr
	typ   reflect.Type
	size  uintptr
	path  string
	key   string
	note  string
	noscn bool
}

type patternFacts struct {
	name    string
	holder  string
	desc    string
	counts  map[string]int64
	samples []sample
	arena   []byte // sample strings live here, allocated before measuring
	bytes   int64
	objects int64
}

// Sample is one heap object the fixture knows the address of.
type Sample struct {
	Addr   string `json:"addr"`
	Type   string `json:"type"`
	Size   uint64 `json:"size"`
	Holder string `json:"holder"`
	Path   string `json:"path"`
	Key    string `json:"key,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Pattern describes one planted retention pattern.
type Pattern struct {
	Holder          string           `json:"holder"`
	Description     string           `json:"description"`
	RetainedBytes   int64            `json:"retained_bytes"`
	RetainedObjects int64            `json:"retained_objects"`
	Counts          map[string]int64 `json:"counts"`
	Samples         []Sample         `json:"samples"`
}

// Goroutine describes one goroutine seen by runtime.Stack(all=true).
type Goroutine struct {
	ID            int64    `json:"id"`
	WaitReason    string   `json:"wait_reason"`
	StartFunction string   `json:"start_function"`
	TopFunction   string   `json:"top_function"`
	CreatedBy     string   `json:"created_by,omitempty"`
	System        bool     `json:"system"`
	Planted       bool     `json:"planted"`
	Holds         []string `json:"holds,omitempty"`
	HoldsBytes    uint64   `json:"holds_bytes,omitempty"`
	// WaitsOn: the channels a planted goroutine is blocked on (hchan addresses).
	WaitsOn []string `json:"waits_on,omitempty"`
}

// Channel describes one planted channel as the fixture made it.
type Channel struct {
	Addr     string  `json:"addr"`
	Name     string  `json:"name"`
	ElemType string  `json:"elem_type"`
	Len      int     `json:"len"`
	Cap      int     `json:"cap"`
	Waiters  []int64 `json:"waiters"`
}

// Timer describes one planted timer: a ticker never stopped or a
// time.AfterFunc that has not fired.
type Timer struct {
	Kind     string `json:"kind"`
	PeriodNs int64  `json:"period_ns"`
	DelayNs  int64  `json:"delay_ns"`
	Chan     string `json:"chan,omitempty"`
	Holds    string `json:"holds,omitempty"`
	Goroutine int64 `json:"goroutine,omitempty"`
}

// Goroutines summarises the goroutines of the process at fact time.
type Goroutines struct {
	NumGoroutine            int               `json:"num_goroutine"`
	PlantedTotal            int               `json:"planted_total"`
	PlantedByStartFunction  map[string]int    `json:"planted_by_start_function"`
	PlantedByWaitReason     map[string]int    `json:"planted_by_wait_reason"`
	ExpectedWaitReason      map[string]string `json:"expected_wait_reason"`
	ObservedMatchesExpected bool              `json:"observed_matches_expected"`
	UserByStartFunction     map[string]int    `json:"user_by_start_function"`
	UserByWaitReason        map[string]int    `json:"user_by_wait_reason"`
	MainAtCapture           string            `json:"main_at_capture"`
	List                    []Goroutine       `json:"list"`
	Channels                []Channel         `json:"channels"`
	Timers                  []Timer           `json:"timers"`
}

// Facts is the content of facts.json.
type Facts struct {
	Schema       int                 `json:"schema"`
	Program      string              `json:"program"`
	GoVersion    string              `json:"go_version"`
	GOARCH       string              `json:"goarch"`
	GOOS         string              `json:"goos"`
	PtrSize      int                 `json:"ptr_size"`
	Mode         string              `json:"mode"`
	NumCPU       int                 `json:"num_cpu"`
	GOMAXPROCS   int                 `json:"gomaxprocs"`
	Patterns     map[string]*Pattern `json:"patterns"`
	Goroutines   Goroutines          `json:"goroutines"`
	HeapDump     HeapDumpInfo        `json:"heap_dump"`
	MemStatsWhen string              `json:"memstats_when"`
	SettleRounds int                 `json:"settle_rounds"`
	MemStats     runtime.MemStats    `json:"memstats"`
}

// HeapDumpInfo says how the heap dump relates to the facts.
type HeapDumpInfo struct {
	Format string `json:"format"`
	Note   string `json:"note"`
}

var patterns []*patternFacts

func addrOf(p unsafe.Pointer) uintptr { return uintptr(p) }

func mapAddr(m interface{}) uintptr {
	return reflect.ValueOf(m).Pointer()
}

func sliceAddr(b []byte) uintptr {
	if cap(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[:1][0]))
}

var (
	tPayload  = reflect.TypeOf(Payload{})
	tBuffer   = reflect.TypeOf(bytes.Buffer{})
	tBytes    = reflect.TypeOf([]byte(nil))
	tMapSI    = reflect.TypeOf(map[string]interface{}(nil))
	tIndex1   = reflect.TypeOf(map[string]map[string]map[string]int(nil))
	tIndex2   = reflect.TypeOf(map[string]map[string]int(nil))
	tIndex3   = reflect.TypeOf(map[string]int(nil))
	tSessions = reflect.TypeOf(map[int64]*Session(nil))
	tSession  = reflect.TypeOf(Session{})
	tRecord   = reflect.TypeOf(Record{})
	tRecMap   = reflect.TypeOf(map[string]*Record(nil))
	tHolder   = reflect.TypeOf(holder{})
	tRegEntry = reflect.TypeOf(RegEntry{})
	tOuter    = reflect.TypeOf(Outer{})
	tMid      = reflect.TypeOf(Mid{})
	tLeaf     = reflect.TypeOf(Leaf{})
	tNode     = reflect.TypeOf(Node{})
	tNoise    = reflect.TypeOf(Noise{})
	tTicker   = reflect.TypeOf(time.Ticker{})
	tString   = reflect.TypeOf("")
)

// measure builds one pattern and records the HeapAlloc/HeapObjects delta
// around it (runtime.GC before and after, twice to empty sync.Pool victims).
func measure(p *patternFacts, build func(p *patternFacts)) {
	p.counts = make(map[string]int64, 16)
	p.samples = make([]sample, 0, 96)
	p.arena = make([]byte, 0, 1<<16)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	build(p)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	p.bytes = int64(after.HeapAlloc) - int64(before.HeapAlloc)
	p.objects = int64(after.HeapObjects) - int64(before.HeapObjects)
	patterns = append(patterns, p)
}

func (p *patternFacts) add(addr uintptr, typ reflect.Type, size uintptr, path, key, note string) {
	p.samples = append(p.samples, sample{addr: addr, typ: typ, size: size, path: p.keep(path), key: p.keep(key), note: p.keep(note)})
}

// keep copies s into the pattern's preallocated arena, so that the strings a
// builder computes for its samples are garbage by the time the pattern's
// retained bytes are measured: only what the pattern itself built is counted.
func (p *patternFacts) keep(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(p.arena)+len(s) > cap(p.arena) {
		panic("leaky: sample arena full")
	}
	start := len(p.arena)
	p.arena = append(p.arena, s...)
	var out string
	h := (*reflect.StringHeader)(unsafe.Pointer(&out))
	h.Data = uintptr(unsafe.Pointer(&p.arena[start]))
	h.Len = len(s)
	return out
}

// fill writes deterministic, compressible text into b.
func fill(b []byte, tag string, i int) {
	s := tag + ":" + strconv.Itoa(i) + ";"
	for j := 0; j < len(b); j += len(s) {
		copy(b[j:], s)
	}
}

// ---------------------------------------------------------------------------
// Patterns.

func buildCache(p *patternFacts) {
	const nPayload, nString, nBytes, nInt = 2000, 200, 200, 100
	cache = make(map[string]interface{})
	var bufBytes, metaEntries int64
	for i := 0; i < nPayload; i++ {
		key := "user:" + strconv.Itoa(i)
		size := 200 + (i*397)%1600
		b := make([]byte, size)
		fill(b, key, i)
		buf := bytes.NewBuffer(b)
		meta := make(map[string]interface{}, 4)
		meta["id"] = i
		meta["name"] = "name-" + strconv.Itoa(i)
		meta["tags"] = []string{"a", "b", strconv.Itoa(i % 7)}
		if i%5 == 0 {
			meta["extra"] = make([]byte, 48+(i%64))
			metaEntries++
		}
		metaEntries += 3
		pl := &Payload{ID: i, Name: key, Buf: buf, Meta: meta, Created: int64(1700000000 + i)}
		cache[key] = pl
		bufBytes += int64(size)
		if i%250 == 42 || i == 0 || i == 1 {
			p.add(addrOf(unsafe.Pointer(pl)), tPayload, unsafe.Sizeof(*pl), `main.cache["`+key+`"].(*main.Payload)`, key, "")
			p.add(addrOf(unsafe.Pointer(buf)), tBuffer, unsafe.Sizeof(*buf), `main.cache["`+key+`"].(*main.Payload).Buf`, key, "")
			p.add(sliceAddr(b), tBytes, uintptr(cap(b)), `main.cache["`+key+`"].(*main.Payload).Buf.buf`, key, "backing array of the bytes.Buffer")
			p.add(mapAddr(meta), tMapSI, 0, `main.cache["`+key+`"].(*main.Payload).Meta`, key, "map header")
		}
	}
	var strBytes int64
	for i := 0; i < nString; i++ {
		key := "name:" + strconv.Itoa(i)
		s := strings.Repeat("string value "+strconv.Itoa(i)+" ", 4+i%20)
		cache[key] = s
		strBytes += int64(len(s))
		if i%50 == 7 {
			p.add(uintptr(unsafe.Pointer((*reflect.StringHeader)(unsafe.Pointer(&s)).Data)), tString, uintptr(len(s)),
				`main.cache["`+key+`"].(string)`, key, "string data (pointer-free)")
		}
	}
	for i := 0; i < nBytes; i++ {
		key := "blob:" + strconv.Itoa(i)
		b := make([]byte, 64+(i*31)%900)
		fill(b, key, i)
		cache[key] = b
		if i%50 == 9 {
			p.add(sliceAddr(b), tBytes, uintptr(cap(b)), `main.cache["`+key+`"].([]uint8)`, key, "")
		}
	}
	for i := 0; i < nInt; i++ {
		cache["count:"+strconv.Itoa(i)] = 1000 + i*7
	}
	p.add(mapAddr(cache), tMapSI, 0, "main.cache", "", "map header")
	p.counts["len"] = int64(len(cache))
	p.counts["payload_values"] = nPayload
	p.counts["string_values"] = nString
	p.counts["bytes_values"] = nBytes
	p.counts["int_values"] = nInt
	p.counts["payload_buffer_bytes"] = bufBytes
	p.counts["payload_meta_entries"] = metaEntries
	p.counts["string_value_bytes"] = strBytes
}

func buildIndex(p *patternFacts) {
	const n1, n2, n3 = 20, 10, 10
	index = make(map[string]map[string]map[string]int)
	for i := 0; i < n1; i++ {
		k1 := "region-" + strconv.Itoa(i)
		l2 := make(map[string]map[string]int)
		index[k1] = l2
		for j := 0; j < n2; j++ {
			k2 := "host-" + strconv.Itoa(j)
			l3 := make(map[string]int)
			l2[k2] = l3
			for k := 0; k < n3; k++ {
				l3["metric-"+strconv.Itoa(k)] = i*100 + j*10 + k
			}
			if i == 3 && j == 7 {
				p.add(mapAddr(l3), tIndex3, 0, `main.index["region-3"]["host-7"]`, "region-3/host-7", "map header")
			}
		}
		if i == 3 {
			p.add(mapAddr(l2), tIndex2, 0, `main.index["region-3"]`, "region-3", "map header")
		}
	}
	p.add(mapAddr(index), tIndex1, 0, "main.index", "", "map header")
	p.counts["len"] = int64(len(index))
	p.counts["maps_level1"] = 1
	p.counts["maps_level2"] = n1
	p.counts["maps_level3"] = n1 * n2
	p.counts["maps_total"] = 1 + n1 + n1*n2
	p.counts["leaf_entries"] = n1 * n2 * n3
}

func buildSessions(p *patternFacts) {
	const grown, kept = 50000, 10
	sessions = make(map[int64]*Session)
	for i := 0; i < grown; i++ {
		sessions[int64(i)] = &Session{ID: int64(i), User: "u", Seen: int64(i) * 3}
	}
	deleted := 0
	for i := 0; i < grown; i++ {
		if i%(grown/kept) != 0 {
			delete(sessions, int64(i))
			deleted++
		}
	}
	for k, s := range sessions {
		if k == 0 || k == 25000 {
			p.add(addrOf(unsafe.Pointer(s)), tSession, unsafe.Sizeof(*s), "main.sessions["+strconv.FormatInt(k, 10)+"]", strconv.FormatInt(k, 10), "")
		}
	}
	p.add(mapAddr(sessions), tSessions, 0, "main.sessions", "", "map header; buckets sized for 50000 entries")
	p.counts["max_len"] = grown
	p.counts["deleted"] = int64(deleted)
	p.counts["len"] = int64(len(sessions))
}

func buildRegistry(p *patternFacts) {
	const stored, deleted, los = 5000, 4000, 500
	for i := 0; i < stored; i++ {
		k := "svc-" + strconv.Itoa(i)
		registry.Store(k, &RegEntry{Key: k, Value: make([]byte, 32+i%96), Gen: 1})
	}
	for i := 0; i < deleted; i++ {
		registry.Delete("svc-" + strconv.Itoa(i))
	}
	loaded, storedLOS := 0, 0
	for i := 0; i < los; i++ {
		// Half of the keys exist (i >= 250 maps to svc-4xxx), half were deleted.
		k := "svc-" + strconv.Itoa(3750+i)
		_, ok := registry.LoadOrStore(k, &RegEntry{Key: k, Value: make([]byte, 40), Gen: 2})
		if ok {
			loaded++
		} else {
			storedLOS++
		}
	}
	n := 0
	registry.Range(func(k, v interface{}) bool { n++; return true })
	for _, k := range []string{"svc-4000", "svc-4500", "svc-3800"} {
		if v, ok := registry.Load(k); ok {
			e := v.(*RegEntry)
			p.add(addrOf(unsafe.Pointer(e)), tRegEntry, unsafe.Sizeof(*e), `main.registry["`+k+`"].(*main.RegEntry)`, k, "")
		}
	}
	p.counts["stored"] = stored
	p.counts["deleted"] = deleted
	p.counts["load_or_store_loaded"] = int64(loaded)
	p.counts["load_or_store_stored"] = int64(storedLOS)
	p.counts["len"] = int64(n)
}

func buildShared(p *patternFacts) {
	const n = 300
	m := make(map[string]*Record, n)
	for i := 0; i < n; i++ {
		k := "rec-" + strconv.Itoa(i)
		d := make([]byte, 256)
		fill(d, k, i)
		m[k] = &Record{ID: i, Name: k, Data: d}
	}
	holderA = holder{name: "A", m: m}
	hb := holderA // shallow copy: same map
	hb.name = "B"
	holderB = &hb
	holderC.label = "C"
	holderC.m = holderB.m
	r := m["rec-42"]
	p.add(mapAddr(m), tRecMap, 0, "main.holderA.m", "", "map header; same map as main.holderB.m and main.holderC.m")
	p.add(addrOf(unsafe.Pointer(holderB)), tHolder, unsafe.Sizeof(*holderB), "main.holderB", "", "")
	p.add(addrOf(unsafe.Pointer(r)), tRecord, unsafe.Sizeof(*r), `main.holderA.m["rec-42"]`, "rec-42", "")
	p.add(sliceAddr(r.Data), tBytes, uintptr(cap(r.Data)), `main.holderA.m["rec-42"].Data`, "rec-42", "")
	p.counts["len"] = n
	p.counts["holders"] = 3
	p.counts["record_data_bytes"] = n * 256
}

func buildRoot(p *patternFacts) {
	leaf := &Leaf{Data: make([]byte, 4096), N: 7}
	fill(leaf.Data, "leaf", 0)
	var next Iface = leaf
	mids := make([]*Mid, 0, 3)
	for lvl := 3; lvl >= 1; lvl-- {
		m := &Mid{Next: next, Level: lvl, Blob: make([]byte, 512*lvl)}
		mids = append(mids, m)
		next = m
	}
	out := &Outer{Inner: next, Tag: "root"}
	root = out
	p.add(addrOf(unsafe.Pointer(out)), tOuter, unsafe.Sizeof(*out), "main.root.(*main.Outer)", "", "")
	path := "main.root.(*main.Outer).Inner"
	for i := len(mids) - 1; i >= 0; i-- {
		m := mids[i]
		p.add(addrOf(unsafe.Pointer(m)), tMid, unsafe.Sizeof(*m), path+".(*main.Mid)", "", "level "+strconv.Itoa(m.Level))
		path += ".(*main.Mid).Next"
	}
	p.add(addrOf(unsafe.Pointer(leaf)), tLeaf, unsafe.Sizeof(*leaf), path+".(*main.Leaf)", "", "")
	p.add(sliceAddr(leaf.Data), tBytes, uintptr(cap(leaf.Data)), path+".(*main.Leaf).Data", "", "")
	p.counts["depth"] = 5 // Outer, Mid x3, Leaf
	p.counts["mids"] = 3
}

func buildNoise(p *patternFacts) {
	noise = &Noise{}
	for i := 0; i < 3000; i++ {
		noise.Strings = append(noise.Strings, "noise string number "+strconv.Itoa(i))
	}
	noise.Ints = make([]int, 20000)
	for i := range noise.Ints {
		noise.Ints[i] = i * i
	}
	noise.Points = make([]Point, 5000)
	for i := 0; i < 400; i++ {
		b := make([]byte, 16+(i*13)%700)
		fill(b, "noise", i)
		noise.Blobs = append(noise.Blobs, b)
	}
	var head *Node
	for i := 0; i < 5000; i++ {
		head = &Node{Next: head, Value: i, Label: "node-" + strconv.Itoa(i)}
	}
	list = head
	// Garbage: built, then dropped before the capture.
	var garbageBytes int64
	var g [][]byte
	for i := 0; i < 4000; i++ {
		b := make([]byte, 64+(i%50)*10)
		garbageBytes += int64(len(b))
		g = append(g, b)
	}
	g = nil
	_ = g
	p.add(addrOf(unsafe.Pointer(noise)), tNoise, unsafe.Sizeof(*noise), "main.noise", "", "")
	p.add(addrOf(unsafe.Pointer(list)), tNode, unsafe.Sizeof(*list), "main.list", "", "head of the linked list")
	p.add(addrOf(unsafe.Pointer(list.Next)), tNode, unsafe.Sizeof(*list), "main.list.Next", "", "")
	p.counts["strings"] = int64(len(noise.Strings))
	p.counts["ints"] = int64(len(noise.Ints))
	p.counts["points"] = int64(len(noise.Points))
	p.counts["blobs"] = int64(len(noise.Blobs))
	p.counts["list_nodes"] = 5000
	p.counts["garbage_objects"] = 4000
	p.counts["garbage_bytes"] = garbageBytes
}

// ---------------------------------------------------------------------------
// Goroutines.

type goroutineInfo struct {
	fn    string
	goid  int64
	buf   uintptr
	size  uintptr
	chans []uintptr // the channels it blocks on
}

func chanAddr(c interface{}) uintptr { return reflect.ValueOf(c).Pointer() }

// plantedChan and plantedTimer record what buildGoroutines made, for facts.json.
type plantedChan struct {
	addr    uintptr
	name    string
	elem    string
	len_    int
	cap_    int
}

var (
	plantedChans  []plantedChan
	plantedTimers []Timer
)

func curGoid() int64 {
	var b [64]byte
	s := string(b[:runtime.Stack(b[:], false)])
	s = strings.TrimPrefix(s, "goroutine ")
	if i := strings.IndexByte(s, ' '); i > 0 {
		s = s[:i]
	}
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}

func blockedWorker(i int, ch chan int) {
	buf := make([]byte, 1024*(i+1))
	fill(buf, "worker", i)
	setupReport <- goroutineInfo{"main.blockedWorker", curGoid(), sliceAddr(buf), uintptr(cap(buf)), []uintptr{chanAddr(ch)}}
	v := <-ch
	buf[0] = byte(v)
	runtime.KeepAlive(buf)
}

func stuckSender(i int) {
	buf := make([]byte, 2048+512*i)
	fill(buf, "sender", i)
	setupReport <- goroutineInfo{"main.stuckSender", curGoid(), sliceAddr(buf), uintptr(cap(buf)), []uintptr{chanAddr(fullChan)}}
	fullChan <- buf[:16]
	runtime.KeepAlive(buf)
}

func tickerLoop(i int, period time.Duration) {
	t := time.NewTicker(period)
	buf := make([]byte, 3000+1000*i)
	fill(buf, "ticker", i)
	setupReport <- goroutineInfo{"main.tickerLoop", curGoid(), sliceAddr(buf), uintptr(cap(buf)), []uintptr{chanAddr(t.C), chanAddr(tickerQuit)}}
	for {
		select {
		case <-t.C:
			buf[0]++
		case <-tickerQuit:
			runtime.KeepAlive(buf)
			return
		}
	}
}

func lockWaiter(i int) {
	buf := make([]byte, 1500+100*i)
	fill(buf, "locker", i)
	setupReport <- goroutineInfo{"main.lockWaiter", curGoid(), sliceAddr(buf), uintptr(cap(buf)), nil}
	lockedMu.Lock()
	buf[0]++
	lockedMu.Unlock()
	runtime.KeepAlive(buf)
}

func sleeper(i int) {
	buf := make([]byte, 700+100*i)
	fill(buf, "sleeper", i)
	setupReport <- goroutineInfo{"main.sleeper", curGoid(), sliceAddr(buf), uintptr(cap(buf)), nil}
	time.Sleep(1000 * time.Hour)
	runtime.KeepAlive(buf)
}

var expectedWait = map[string]string{
	"main.blockedWorker": "chan receive",
	"main.stuckSender":   "chan send",
	"main.tickerLoop":    "select",
	"main.lockWaiter":    "sync.Mutex.Lock",
	"main.sleeper":       "sleep",
}

var planted []goroutineInfo

func buildGoroutines(p *patternFacts) {
	const nWorkers, nSenders, nTickers, nLockers, nSleepers = 8, 4, 3, 2, 2
	total := nWorkers + nSenders + nTickers + nLockers + nSleepers
	setupReport = make(chan goroutineInfo)
	planted = make([]goroutineInfo, 0, total)
	tickerQuit = make(chan struct{})
	neverSent = make([]chan int, nWorkers)
	for i := range neverSent {
		neverSent[i] = make(chan int)
		go blockedWorker(i, neverSent[i])
		planted = append(planted, <-setupReport)
		plantedChans = append(plantedChans, plantedChan{chanAddr(neverSent[i]), "main.neverSent[" + strconv.Itoa(i) + "]", "int", 0, 0})
	}
	fullChan = make(chan []byte, 2)
	fullChan <- make([]byte, 100)
	fullChan <- make([]byte, 200)
	plantedChans = append(plantedChans, plantedChan{chanAddr(fullChan), "main.fullChan", "[]uint8", len(fullChan), cap(fullChan)})
	plantedChans = append(plantedChans, plantedChan{chanAddr(tickerQuit), "main.tickerQuit", "struct {}", 0, 0})
	for i := 0; i < nSenders; i++ {
		go stuckSender(i)
		planted = append(planted, <-setupReport)
	}
	for i := 0; i < nTickers; i++ {
		period := time.Duration(i+1) * time.Hour
		go tickerLoop(i, period)
		g := <-setupReport
		planted = append(planted, g)
		// Capacity 1: the buffer the runtime allocates (since Go 1.23 cap() reports 0 for timer channels).
		plantedChans = append(plantedChans, plantedChan{g.chans[0], "time.Ticker.C of goroutine " + strconv.FormatInt(g.goid, 10), "time.Time", 0, 1})
		plantedTimers = append(plantedTimers, Timer{Kind: "ticker", PeriodNs: int64(period), DelayNs: int64(period), Chan: hex(g.chans[0]), Goroutine: g.goid})
	}
	lockedMu.Lock()
	for i := 0; i < nLockers; i++ {
		go lockWaiter(i)
		planted = append(planted, <-setupReport)
	}
	for i := 0; i < nSleepers; i++ {
		go sleeper(i)
		planted = append(planted, <-setupReport)
	}
	// time.AfterFunc timers: the closures (and their buffers) are reachable
	// only from the runtime's timer heap.
	for i := 0; i < 2; i++ {
		buf := make([]byte, 5000+1000*i)
		fill(buf, "afterfunc", i)
		delay := time.Duration(4+i) * time.Hour
		time.AfterFunc(delay, func() { buf[0]++ })
		plantedTimers = append(plantedTimers, Timer{Kind: "afterfunc", DelayNs: int64(delay), Holds: hex(sliceAddr(buf))})
		p.add(sliceAddr(buf), tBytes, uintptr(cap(buf)), "time.AfterFunc("+strconv.Itoa(4+i)+"h) closure .buf", "", "reachable only through the runtime timer heap")
	}
	// Let every goroutine reach its blocking point.
	for i := 0; i < 200; i++ {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	for _, g := range planted {
		p.add(g.buf, tBytes, g.size, "goroutine "+strconv.FormatInt(g.goid, 10)+" ("+g.fn+") local buf", strconv.FormatInt(g.goid, 10), "held by a stack frame of "+g.fn)
	}
	p.counts["goroutines"] = int64(total)
	p.counts["blocked_workers"] = nWorkers
	p.counts["stuck_senders"] = nSenders
	p.counts["ticker_loops"] = nTickers
	p.counts["lock_waiters"] = nLockers
	p.counts["sleepers"] = nSleepers
	p.counts["afterfunc_timers"] = 2
	p.counts["full_chan_cap"] = int64(cap(fullChan))
	p.counts["full_chan_len"] = int64(len(fullChan))
}

// observeGoroutines parses runtime.Stack(all=true).
func observeGoroutines() []Goroutine {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var out []Goroutine
	for _, block := range strings.Split(string(buf[:n]), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if len(lines) == 0 || !strings.HasPrefix(lines[0], "goroutine ") {
			continue
		}
		var g Goroutine
		h := strings.TrimPrefix(lines[0], "goroutine ")
		sp := strings.IndexByte(h, ' ')
		g.ID, _ = strconv.ParseInt(h[:sp], 10, 64)
		st := h[strings.IndexByte(h, '[')+1 : strings.LastIndexByte(h, ']')]
		if i := strings.IndexByte(st, ','); i >= 0 {
			st = st[:i]
		}
		g.WaitReason = st
		var funcs []string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") {
				continue
			}
			if strings.HasPrefix(l, "created by ") {
				c := strings.TrimPrefix(l, "created by ")
				if i := strings.Index(c, " in goroutine"); i >= 0 {
					c = c[:i]
				}
				g.CreatedBy = c
				break
			}
			if strings.HasPrefix(l, "...") {
				continue
			}
			f := l
			if i := strings.LastIndexByte(f, '('); i > 0 {
				f = f[:i]
			}
			funcs = append(funcs, f)
		}
		for len(funcs) > 0 && funcs[len(funcs)-1] == "runtime.goexit" {
			funcs = funcs[:len(funcs)-1]
		}
		if len(funcs) > 0 {
			g.TopFunction = funcs[0]
			g.StartFunction = funcs[len(funcs)-1]
		}
		g.System = strings.HasPrefix(g.StartFunction, "runtime.") && g.StartFunction != "runtime.main"
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ---------------------------------------------------------------------------

func hex(a uintptr) string { return "0x" + strconv.FormatUint(uint64(a), 16) }

func buildFacts(mode string) *Facts {
	f := &Facts{
		Schema:     schemaVersion,
		Program:    "leaky",
		GoVersion:  runtime.Version(),
		GOARCH:     runtime.GOARCH,
		GOOS:       runtime.GOOS,
		PtrSize:    int(unsafe.Sizeof(uintptr(0))),
		Mode:       mode,
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Patterns:   map[string]*Pattern{},
		HeapDump: HeapDumpInfo{
			Format: "go1.7 heap dump",
			Note:   "written by runtime/debug.WriteHeapDump right after memstats were read; runtime.GC and debug.FreeOSMemory in between free only the garbage of writing this file",
		},
		MemStatsWhen: "after runtime.GC() twice, immediately before writing facts.json; then runtime.GC() twice, debug.FreeOSMemory(), a check that HeapObjects and HeapAlloc are unchanged, WriteHeapDump and the same check again (if a check fails, all of it is repeated: settle_rounds)",
	}
	for _, p := range patterns {
		pp := &Pattern{Holder: p.holder, Description: p.desc, RetainedBytes: p.bytes, RetainedObjects: p.objects, Counts: p.counts, Samples: []Sample{}}
		for _, s := range p.samples {
			name := s.typ.String()
			pp.Samples = append(pp.Samples, Sample{Addr: hex(s.addr), Type: name, Size: uint64(s.size), Holder: p.holder, Path: s.path, Key: s.key, Note: s.note})
		}
		f.Patterns[p.name] = pp
	}
	// Goroutines.
	obs := observeGoroutines()
	byID := map[int64]goroutineInfo{}
	for _, g := range planted {
		byID[g.goid] = g
	}
	gs := &f.Goroutines
	gs.NumGoroutine = runtime.NumGoroutine()
	gs.PlantedTotal = len(planted)
	gs.PlantedByStartFunction = map[string]int{}
	gs.PlantedByWaitReason = map[string]int{}
	gs.UserByStartFunction = map[string]int{}
	gs.UserByWaitReason = map[string]int{}
	if v := runtime.Version(); strings.HasPrefix(v, "go1.1") && len(v) > 5 && v[5] >= '0' && v[5] <= '9' {
		// Before Go 1.20 a goroutine blocked in sync.Mutex.Lock waits in "semacquire".
		expectedWait["main.lockWaiter"] = "semacquire"
	}
	gs.ExpectedWaitReason = expectedWait
	gs.ObservedMatchesExpected = true
	if mode == "wait" {
		gs.MainAtCapture = "select (no cases)"
	} else {
		gs.MainAtCapture = "running (SIGABRT to itself)"
	}
	for i := range obs {
		g := &obs[i]
		if pg, ok := byID[g.ID]; ok {
			g.Planted = true
			g.Holds = []string{hex(pg.buf)}
			g.HoldsBytes = uint64(pg.size)
			for _, c := range pg.chans {
				g.WaitsOn = append(g.WaitsOn, hex(c))
			}
			gs.PlantedByStartFunction[g.StartFunction]++
			gs.PlantedByWaitReason[g.WaitReason]++
			if g.StartFunction != pg.fn || expectedWait[pg.fn] != g.WaitReason {
				gs.ObservedMatchesExpected = false
			}
		}
		if !g.System {
			gs.UserByStartFunction[g.StartFunction]++
			gs.UserByWaitReason[g.WaitReason]++
		}
	}
	gs.List = obs
	for _, c := range plantedChans {
		ch := Channel{Addr: hex(c.addr), Name: c.name, ElemType: c.elem, Len: c.len_, Cap: c.cap_, Waiters: []int64{}}
		for _, pg := range planted {
			for _, w := range pg.chans {
				if w == c.addr {
					ch.Waiters = append(ch.Waiters, pg.goid)
				}
			}
		}
		gs.Channels = append(gs.Channels, ch)
	}
	gs.Timers = plantedTimers
	return f
}

func sameHeap(a, b *runtime.MemStats) bool {
	return a.HeapObjects == b.HeapObjects && a.HeapAlloc == b.HeapAlloc
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "leaky: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	factsPath := flag.String("facts", "", "write facts JSON to this file (required)")
	dumpPath := flag.String("heapdump", "", "write runtime heap dump to this file (required)")
	mode := flag.String("mode", "crash", "crash: SIGABRT to itself with GOTRACEBACK=crash to dump core; wait: write -ready file and block")
	readyPath := flag.String("ready", "", "wait mode: file written when the process is ready for gcore")
	flag.Parse()
	if *factsPath == "" || *dumpPath == "" || (*mode != "crash" && *mode != "wait") || (*mode == "wait" && *readyPath == "") {
		flag.Usage()
		os.Exit(2)
	}
	if *mode == "crash" {
		debug.SetTraceback("crash")
	}
	// Open every output before measuring so that nothing the facts describe
	// is allocated afterwards.
	var err error
	if factsFile, err = os.Create(*factsPath); err != nil {
		die("%v", err)
	}
	if dumpFile, err = os.Create(*dumpPath); err != nil {
		die("%v", err)
	}
	dumpFD := dumpFile.Fd()
	if *mode == "wait" {
		if readyFile, err = os.Create(*readyPath); err != nil {
			die("%v", err)
		}
		readyFile.Fd()
	}

	measure(&patternFacts{name: "noise", holder: "main.noise", desc: "ordinary data: strings, slices, a 5000-node linked list (main.list); garbage dropped before capture"}, buildNoise)
	measure(&patternFacts{name: "cache", holder: "main.cache", desc: "global map[string]interface{} cache: *main.Payload values (bytes.Buffer + nested map), plus string, []byte and int values"}, buildCache)
	measure(&patternFacts{name: "index", holder: "main.index", desc: "map[string]map[string]map[string]int, 20x10x10"}, buildIndex)
	measure(&patternFacts{name: "sessions", holder: "main.sessions", desc: "map[int64]*main.Session grown to 50000 entries then deleted down to 10; keeps its buckets"}, buildSessions)
	measure(&patternFacts{name: "registry", holder: "main.registry", desc: "sync.Map with churn: Store, Delete, LoadOrStore"}, buildRegistry)
	measure(&patternFacts{name: "shared_map", holder: "main.holderA", desc: "one map[string]*main.Record shared by main.holderA (struct), main.holderB (*struct) and main.holderC (struct) as field .m"}, buildShared)
	measure(&patternFacts{name: "root_chain", holder: "main.root", desc: "interface{} holding *Outer whose interface field holds *Mid -> *Mid -> *Mid -> *Leaf"}, buildRoot)
	measure(&patternFacts{name: "goroutines", holder: "goroutines", desc: "goroutines blocked forever, each holding a buffer in a live local; tickers never stopped; time.AfterFunc closures"}, buildGoroutines)

	facts = buildFacts(*mode)
	// Warm up every code path used below (encoder caches, pools).
	warm, err := json.MarshalIndent(facts, "", "  ")
	if err != nil {
		die("%v", err)
	}
	warm = nil
	_ = warm
	// Read MemStats, write the facts, free the garbage of writing them
	// (sync.Pool victims need two cycles), check that the heap is back to
	// what the facts describe, write the heap dump and check again.
	// Runtime-internal caches (sudogs, timer heaps, sync.Map promotions in
	// encoding/json) can make a round allocate something that stays; then
	// the round is repeated. Nothing in a round but the marshalling allocates.
	settled := false
	for round := 1; round <= 10 && !settled; round++ {
		facts.SettleRounds = round
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&facts.MemStats)
		data, _ := json.MarshalIndent(facts, "", "  ")
		data = append(data, '\n')
		if _, err := factsFile.WriteAt(data, 0); err != nil {
			die("%v", err)
		}
		if err := factsFile.Truncate(int64(len(data))); err != nil {
			die("%v", err)
		}
		data = nil
		runtime.GC()
		runtime.GC()
		debug.FreeOSMemory()
		runtime.ReadMemStats(&check)
		if !sameHeap(&check, &facts.MemStats) {
			continue
		}
		if _, err := dumpFile.Seek(0, 0); err != nil {
			die("%v", err)
		}
		if err := dumpFile.Truncate(0); err != nil {
			die("%v", err)
		}
		debug.WriteHeapDump(dumpFD)
		runtime.ReadMemStats(&check)
		settled = sameHeap(&check, &facts.MemStats)
	}
	if !settled {
		println("leaky: heap did not settle: HeapObjects", check.HeapObjects, "want", facts.MemStats.HeapObjects,
			"HeapAlloc", check.HeapAlloc, "want", facts.MemStats.HeapAlloc)
	}

	if *mode == "wait" {
		readyFile.Write(readyMsg)
		select {}
	}
	// Die by SIGABRT sent to this very thread with raw system calls, so
	// nothing runs or allocates between the heap dump and the core: the
	// runtime turns the signal into a GOTRACEBACK=crash core dump. (A panic
	// would allocate: Go 1.21's gopanic heap-allocates a defer record.)
	pid, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	tid, _, _ := syscall.RawSyscall(syscall.SYS_GETTID, 0, 0, 0)
	syscall.RawSyscall(syscall.SYS_TGKILL, pid, tid, uintptr(syscall.SIGABRT))
	select {}
}
