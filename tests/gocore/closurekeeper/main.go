// closurekeeper keeps values reachable ONLY through func values held by one object that the
// runtime types itself (a Holder: pointers and over 512 bytes, so Go 1.22+ gives it a malloc
// header): closures, method values with a pointer receiver and with a value receiver; and
// closures held only by a global slice (loose); and values only behind sync/atomic.Pointer. It
// prints one "MANIFEST {json}" line with the counts it kept and some addresses, then sleeps
// until it is killed (SIGQUIT under GOTRACEBACK=crash).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

type Captured struct{ ID, N int64 } // captured by the closures (typed by DWARF or by the code making them)
type Thing struct {                 // the receiver of a pointer method value
	ID   int64
	Data *Payload
}
type Payload struct{ A, B, C int64 } // only behind a Thing
type Val struct {                    // the receiver of a value method value, copied into it
	Cell *Cell
	K    int64
}
type Cell struct{ X, Y int64 } // only behind a Val

func (t *Thing) Describe() string { return fmt.Sprint(t.ID, t.Data.A) }
func (v Val) Get() int64          { return v.Cell.X + v.K }

type Leaf struct{ ID, N int64 } // only behind a sync/atomic.Pointer[Leaf]

type Holder struct {
	Pad      [600]byte
	Leaves   [nLeaves]atomic.Pointer[Leaf]
	Closures []func() int64
	Methods  []func() string
	Values   []func() int64
}

const (
	nClosures = 40
	nMethods  = 30
	nValues   = 20
	nLoose    = 25
	nLeaves   = 12
)

var holder *Holder

// loose is a global without a type the heap can know (a stripped binary has no symbols):
// its closures are found by their first word alone.
var loose []func() int64

func word(p unsafe.Pointer) uintptr { return *(*uintptr)(p) }

//go:noinline
func makeLoose(i int) func() int64 {
	c := &Captured{ID: int64(i), N: 1}
	return func() int64 { return c.ID * c.N }
}

//go:noinline
func makeClosure(i int) func() int64 {
	c := &Captured{ID: int64(i)}
	return func() int64 { return c.ID + c.N }
}

func main() {
	h := &Holder{}
	for i := 0; i < nClosures; i++ {
		h.Closures = append(h.Closures, makeClosure(i))
	}
	for i := 0; i < nMethods; i++ {
		t := &Thing{ID: int64(i), Data: &Payload{A: int64(i)}}
		h.Methods = append(h.Methods, t.Describe)
	}
	for i := 0; i < nValues; i++ {
		v := Val{Cell: &Cell{X: int64(i)}, K: int64(i)}
		h.Values = append(h.Values, v.Get)
	}
	for i := range h.Leaves {
		h.Leaves[i].Store(&Leaf{ID: int64(i)})
	}
	holder = h
	for i := 0; i < nLoose; i++ {
		loose = append(loose, makeLoose(i))
	}
	runtime.GC()
	m := map[string]interface{}{
		"go_version": runtime.Version(),
		"pid":        os.Getpid(),
		"counts": map[string]int{
			"closure for main.makeClosure.func1":    nClosures,
			"closure for main.makeLoose.func1":      nLoose,
			"closure for main.(*Thing).Describe-fm": nMethods,
			"closure for main.Val.Get-fm":           nValues,
			"main.Thing":                            nMethods, "main.Payload": nMethods, "main.Cell": nValues,
			"main.Leaf":     nLeaves,
			"main.Captured": nClosures + nLoose,
		},
		"objects": map[string]uintptr{
			"holder":  uintptr(unsafe.Pointer(h)),
			"closure": word(unsafe.Pointer(&h.Closures[0])),
			"method":  word(unsafe.Pointer(&h.Methods[0])),
			"value":   word(unsafe.Pointer(&h.Values[0])),
			"loose":   word(unsafe.Pointer(&loose[0])),
		},
		"types": []string{fmt.Sprintf("%T", &Thing{}), fmt.Sprintf("%T", Val{})},
	}
	b, _ := json.Marshal(m)
	fmt.Printf("MANIFEST %s\n", b)
	for { // not select{}: a deadlock would crash before the test's SIGQUIT
		time.Sleep(time.Hour)
	}
}
