module bigheap

go 1.19
