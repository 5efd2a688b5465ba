package main

// The shapes heap (bench -heap shapes; scripts/bench/run --program shapes): heap shapes that once
// made goheap slow out of proportion to the heap's size. At scale 1:
//   - a list of 1,000,000 nodes built by prepending, each node below the one before;
//   - a container/list of 1,000,000 elements (each step of the list is another object);
//   - 500,000 one-entry maps held by one slice;
//   - 50,000 goroutines parked on channel receives, each holding an item in a local;
//   - every other one of 4,000,000 items, so that after the collection their spans have free slots
//     between their objects (as a long-running program's do);
//   - a map[string]any of 500,000 entries.

import (
	"container/list"
	"runtime"
	"strconv"
)

// ShapeNode is a node of the list built backwards.
type ShapeNode struct {
	Next *ShapeNode
	Val  [2]int64
}

// Item is what the other shapes hold.
type Item struct {
	ID   int64
	Name string
}

var (
	backwards *ShapeNode
	queue     = list.New()
	oneMaps   []map[string]int
	workers   []chan *Item
	kept      []*Item
	anyCache  = map[string]any{}
)

func worker(c chan *Item, it *Item, started chan<- struct{}) {
	started <- struct{}{}
	select {
	case x := <-c:
		runtime.KeepAlive(x)
	case <-release:
	}
	runtime.KeepAlive(it)
}

func (b *builder) buildShapes() {
	for i := 0; i < b.n(1000000); i++ {
		backwards = &ShapeNode{Next: backwards, Val: [2]int64{int64(i)}}
		b.count["backwards_nodes"]++
		if i > 0 {
			b.edges++ // Next
		}
	}
	for i := 0; i < b.n(1000000); i++ {
		queue.PushBack(&Item{ID: int64(i)})
		b.count["queue_elements"]++
		b.edges += 3 // the element's Value (its data word), next and prev
	}
	for i := 0; i < b.n(500000); i++ {
		oneMaps = append(oneMaps, map[string]int{"k": i})
		b.count["one_entry_maps"]++
		b.edges += 2 // the slice element and the key's bytes
	}
	started := make(chan struct{})
	for i := 0; i < b.n(50000); i++ {
		c := make(chan *Item)
		workers = append(workers, c)
		go worker(c, &Item{ID: int64(i)}, started)
		<-started
		b.count["parked_goroutines"]++
		b.edges++ // the slice element
	}
	all := make([]*Item, b.n(4000000))
	for i := range all {
		all[i] = &Item{ID: int64(i), Name: strconv.Itoa(i)}
	}
	for i := 0; i < len(all); i += 2 {
		kept = append(kept, all[i])
		b.count["kept_items"]++
		b.edges += 2 // the slice element and the name's bytes
	}
	all = nil
	for i := 0; i < b.n(500000); i++ {
		k := "key-" + strconv.Itoa(i)
		anyCache[k] = &Item{ID: int64(i), Name: k}
		b.count["cache_entries"]++
		b.edges += 3 // the key's bytes, the value's data word, the item's name
	}
}
