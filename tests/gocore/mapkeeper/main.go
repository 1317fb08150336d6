// mapkeeper keeps values reachable ONLY through maps held by one object that the runtime
// types itself (a Holder: pointers and over 512 bytes, so Go 1.22+ gives it a malloc
// header), prints one "MANIFEST {json}" line with the counts it kept and the addresses of
// its map headers, then sleeps until it is killed (SIGQUIT under GOTRACEBACK=crash).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

type V struct{ ID, N int64 } // through Small and Big
type W struct {
	ID int64
	S  string
} // through the inner maps of Nested
type X struct {
	ID int64
	P  *int64
}                              // elems of a map with 200-byte (indirect) keys
type Y struct{ A, B, C int64 } // through a map stored in an interface
type Z struct {
	ID   int64
	Next *Z
} // in the slices that Slices' elems are

type BigKey [200]byte

type Holder struct {
	Pad    [600]byte
	Small  map[string]*V
	Big    map[int]*V
	Ints   map[int]int
	Nested map[string]map[string]*W
	Keys   map[BigKey]*X
	Box    interface{}
	Slices map[int][]*Z
}

const (
	nSmall  = 5
	nBig    = 3000
	nOuter  = 20
	nInner  = 10
	nKeys   = 7
	nBox    = 4
	nSlices = 50
	perZ    = 3
	nInts   = 5000
)

var holder *Holder

func word(p unsafe.Pointer) uintptr { return *(*uintptr)(p) }

func main() {
	h := &Holder{}
	h.Small = make(map[string]*V)
	for i := 0; i < nSmall; i++ {
		h.Small["s"+strconv.Itoa(i)] = &V{ID: int64(i)}
	}
	h.Big = make(map[int]*V)
	for i := 0; i < nBig; i++ {
		h.Big[i] = &V{ID: int64(1000 + i)}
	}
	h.Ints = make(map[int]int)
	for i := 0; i < nInts; i++ {
		h.Ints[i*7919] = i
	}
	h.Nested = make(map[string]map[string]*W)
	for i := 0; i < nOuter; i++ {
		in := make(map[string]*W)
		for j := 0; j < nInner; j++ {
			in["w"+strconv.Itoa(j)] = &W{ID: int64(i*100 + j), S: "inner-" + strconv.Itoa(i*100+j)}
		}
		h.Nested["o"+strconv.Itoa(i)] = in
	}
	h.Keys = make(map[BigKey]*X)
	for i := 0; i < nKeys; i++ {
		var k BigKey
		k[0] = byte(i)
		h.Keys[k] = &X{ID: int64(i)}
	}
	box := make(map[string]*Y)
	for i := 0; i < nBox; i++ {
		box["y"+strconv.Itoa(i)] = &Y{A: int64(i)}
	}
	h.Box = box
	h.Slices = make(map[int][]*Z)
	for i := 0; i < nSlices; i++ {
		s := make([]*Z, perZ)
		for j := range s {
			s[j] = &Z{ID: int64(i*10 + j)}
		}
		h.Slices[i] = s
	}
	holder = h
	runtime.GC()
	m := map[string]interface{}{
		"go_version": runtime.Version(),
		"pid":        os.Getpid(),
		"counts": map[string]int{
			"main.V": nSmall + nBig, "main.W": nOuter * nInner, "main.X": nKeys,
			"main.Y": nBox, "main.Z": nSlices * perZ,
			"main.BigKey": nKeys, // keys over 128 bytes are stored indirectly
		},
		"objects": map[string]uintptr{
			"holder":    uintptr(unsafe.Pointer(h)),
			"small_map": word(unsafe.Pointer(&h.Small)),
			"big_map":   word(unsafe.Pointer(&h.Big)),
			"ints_map":  word(unsafe.Pointer(&h.Ints)),
			"box_map":   word(unsafe.Pointer(&box)),
		},
	}
	b, _ := json.Marshal(m)
	fmt.Printf("MANIFEST %s\n", b)
	for { // not select{}: a deadlock would crash before the test's SIGQUIT
		time.Sleep(time.Hour)
	}
}
