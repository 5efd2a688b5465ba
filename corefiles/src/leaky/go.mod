module goheap.example/leaky

go 1.21
