module goheap.example/bench

go 1.22
