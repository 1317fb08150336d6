// globalkeeper keeps values reachable ONLY through package variables that a stripped binary
// cannot name (no symbols, no DWARF): what they hold is typed from the code that fills and
// uses them. It holds regexps from regexp.MustCompile (used through pointer methods), maps
// (used through the map runtime calls), pointers filled only with new(T) in init, and
// values behind them, and variables filled from a function's result (a fresh new(T), or a
// method's receiver it returns). It prints one "MANIFEST {json}" line with the addresses the variables
// hold and their types (%T), then sleeps until it is killed (SIGQUIT under
// GOTRACEBACK=crash).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"time"
	"unsafe"
)

type Entry struct { // only behind the maps
	Name  string
	Score int64
	Next  *Leaf
}
type Leaf struct{ A, B int64 } // only behind an Entry or a Config

type Config struct { // filled only by new(Config) in init: a pointer variable
	ID    int64
	Child *Leaf
	Tags  []string
}

type Counter struct { // filled only by new(Counter), used by a pointer method
	N    int64
	Last *Leaf
}

//go:noinline
func (c *Counter) Add(n int64) { c.N += n; c.Last = &Leaf{A: n} }

// Thing is made only by newThing, whose result fills a variable: typed from newThing's code.
type Thing struct {
	Name string
	Leaf *Leaf
}

// Big is made by new(Big) and passed through Set, which returns its receiver.
type Big struct {
	V    int64
	Leaf *Leaf
}

//go:noinline
func newThing(name string) *Thing {
	if name == "" {
		return nil
	}
	t := &Thing{Name: name}
	if len(name) > 100 {
		t.Leaf = &Leaf{A: 9}
	}
	return t
}

//go:noinline
func (b *Big) Set(v int64) *Big { b.V = v; return b }

const nEntries = 50

var (
	reWord   = regexp.MustCompile(`^[a-z]+[0-9]*$`)
	reNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	byName   = map[string]*Entry{}
	byID     = make(map[int64]*Entry)
	config   *Config
	counter  = new(Counter)
	made     = newThing("made")         // a function's result: every return nil or new(Thing)
	chained  = new(Big).Set(5)          // a method returning its receiver, a new(Big)
	reOnly   = regexp.MustCompile(`^x`) // MustCompile -> Compile -> compile's &Regexp{}
)

func init() {
	config = &Config{ID: 7, Child: &Leaf{A: 1, B: 2}, Tags: []string{"a", "b"}}
}

//go:noinline
func fill(i int) {
	e := &Entry{Name: "entry" + strconv.Itoa(i), Score: int64(i), Next: &Leaf{A: int64(i)}}
	byName[e.Name] = e
	byID[int64(i)] = &Entry{Name: e.Name, Score: -int64(i)}
}

//go:noinline
func check(s string) bool { return reWord.MatchString(s) || reNumber.MatchString(s) }

func word(p unsafe.Pointer) uintptr { return *(*uintptr)(p) }

func main() {
	for i := 0; i < nEntries; i++ {
		fill(i)
	}
	counter.Add(3)
	if !check("abc1") || !check("-1.5") || check("?") {
		panic("regexps")
	}
	runtime.GC()
	m := map[string]interface{}{
		"go_version": runtime.Version(),
		"pid":        os.Getpid(),
		"objects": map[string]interface{}{
			"reWord":   []interface{}{fmt.Sprintf("%p", reWord), fmt.Sprintf("%T", reWord)},
			"reNumber": []interface{}{fmt.Sprintf("%p", reNumber), fmt.Sprintf("%T", reNumber)},
			"config":   []interface{}{fmt.Sprintf("%p", config), fmt.Sprintf("%T", config)},
			"counter":  []interface{}{fmt.Sprintf("%p", counter), fmt.Sprintf("%T", counter)},
			"made":     []interface{}{fmt.Sprintf("%p", made), fmt.Sprintf("%T", made)},
			"chained":  []interface{}{fmt.Sprintf("%p", chained), fmt.Sprintf("%T", chained)},
			"reOnly":   []interface{}{fmt.Sprintf("%p", reOnly), fmt.Sprintf("%T", reOnly)},
			"byName":   []interface{}{fmt.Sprintf("%#x", word(unsafe.Pointer(&byName))), fmt.Sprintf("%T", byName)},
			"byID":     []interface{}{fmt.Sprintf("%#x", word(unsafe.Pointer(&byID))), fmt.Sprintf("%T", byID)},
		},
		"counts": map[string]int{
			"main.Entry": 2 * nEntries, "main.Config": 1, "main.Counter": 1,
			"main.Leaf": nEntries + 2, "regexp.Regexp": 3,
			"main.Thing": 1, "main.Big": 1,
		},
	}
	b, _ := json.Marshal(m)
	fmt.Printf("MANIFEST %s\n", b)
	for { // not select{}: a deadlock would crash before the test's SIGQUIT
		time.Sleep(time.Hour)
	}
}
