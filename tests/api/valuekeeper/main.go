// valuekeeper sets values of every kind the gocore API reads (ints, strings, slices, maps,
// pointers, interfaces), keeps a pointer chain and two known holders of one object, parks
// goroutines holding an object in a local, prints one "MANIFEST {json}" line with the
// values it set and their %p addresses, then sleeps until it is killed (SIGQUIT under
// GOTRACEBACK=crash). Built with -gcflags=all=-N -l so that locals live in frame memory.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

type Leaf struct {
	ID   int64
	Name string
}

type MyErr struct{ Code int32 }

func (e *MyErr) Error() string { return fmt.Sprint("code ", e.Code) }

type Order struct {
	ID    int64
	Count int32
	Small int8
	Price float64
	OK    bool
	Name  string
	Tags  []string
	Data  []byte
	Attrs map[string]int
	Next  *Order
	Any   interface{}
	Err   error
	Num   interface{}
}

type Target struct {
	V    int64
	Self *Target // a pointer keeps it out of the tiny allocator (untyped 16-byte blocks)
}
type Holder struct {
	T   *Target
	Tag int64
}
type Parked struct {
	ID   int64
	Note string
}

const nOrders = 7

var (
	orders  []*Order
	head    *Order
	holders [2]*Holder
	direct  *Target
	counter int64 = 12345
	greet         = "hello, gocore"
	nilPtr  *Order
)

//go:noinline
func build() {
	orders = make([]*Order, nOrders)
	for i := range orders {
		o := &Order{
			ID:    int64(100 + i),
			Count: int32(-i),
			Small: int8(-100 + i),
			Price: 1.5 * float64(i),
			OK:    i%2 == 0,
			Name:  fmt.Sprintf("order-%d", i),
			Tags:  []string{"t" + fmt.Sprint(i), "common"},
			Data:  []byte{byte(i), 0xff, 'x'},
			Attrs: map[string]int{},
		}
		for j := 0; j <= i*5; j++ { // 1 to 31 entries: small and grown maps
			o.Attrs[fmt.Sprintf("k%d", j)] = j * i
		}
		o.Any = &Leaf{ID: int64(i), Name: "leaf-" + fmt.Sprint(i)}
		o.Err = &MyErr{Code: int32(40 + i)}
		o.Num = int64(7000 + i) // a non-pointer in an interface: boxed
		orders[i] = o
	}
	for i := 0; i+1 < nOrders; i++ {
		orders[i].Next = orders[i+1]
	}
	head = orders[0]
	t := &Target{V: 77}
	holders[0] = &Holder{T: t, Tag: 1}
	holders[1] = &Holder{T: t, Tag: 2}
	direct = &Target{V: 88}
}

//go:noinline
func park(ch chan int, ready chan<- string) {
	p := &Parked{ID: 4242, Note: "parked"}
	ready <- fmt.Sprintf("%p", p)
	<-ch
	runtime.KeepAlive(p)
}

func headers() []string {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	var out []string
	for _, ln := range strings.Split(string(buf[:n]), "\n") {
		if strings.HasPrefix(ln, "goroutine ") {
			out = append(out, ln)
		}
	}
	return out
}

func main() {
	build()
	ch := make(chan int)
	ready := make(chan string)
	var parked []string
	for i := 0; i < 3; i++ {
		go park(ch, ready)
		parked = append(parked, <-ready)
	}
	time.Sleep(100 * time.Millisecond) // let the parkers block in <-ch
	runtime.GC()
	type orderOut struct {
		Addr           string
		ID             int64
		Count          int32
		Small          int8
		Price          float64
		OK             bool
		Name           string
		Tags           []string
		Data           []byte
		Attrs          map[string]int
		Next, Any, Err string
		AnyID          int64
		AnyName        string
		ErrCode        int32
		Num            int64
	}
	var os_ []orderOut
	for _, o := range orders {
		next := ""
		if o.Next != nil {
			next = fmt.Sprintf("%p", o.Next)
		}
		l := o.Any.(*Leaf)
		os_ = append(os_, orderOut{fmt.Sprintf("%p", o), o.ID, o.Count, o.Small, o.Price, o.OK,
			o.Name, o.Tags, o.Data, o.Attrs, next, fmt.Sprintf("%p", l), fmt.Sprintf("%p", o.Err),
			l.ID, l.Name, o.Err.(*MyErr).Code, o.Num.(int64)})
	}
	m := map[string]interface{}{
		"go_version": runtime.Version(),
		"pid":        os.Getpid(),
		"orders":     os_,
		"counts":     map[string]int{"main.Order": nOrders, "main.Leaf": nOrders, "main.Holder": 2, "main.Parked": 3},
		"target":     fmt.Sprintf("%p", holders[0].T),
		"holders":    []string{fmt.Sprintf("%p", holders[0]), fmt.Sprintf("%p", holders[1])},
		"direct":     fmt.Sprintf("%p", direct),
		"counter":    counter,
		"greet":      greet,
		"nil_ptr":    nilPtr == nil,
		"parked":     parked,
		"goroutines": headers(),
	}
	b, _ := json.Marshal(m)
	fmt.Printf("MANIFEST %s\n", b)
	for { // not select{}: a deadlock would crash before the test's SIGQUIT
		time.Sleep(time.Hour)
	}
}
