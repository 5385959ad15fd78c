// Package export_example_greeter_greet implements the exported interface
// example:greeter/greet. The generated bindings call one Go function per WIT
// function, named in CamelCase; the interface's types (record person) live in
// the generated package example_greeter_greet.
package export_example_greeter_greet

import (
	"fmt"
	"runtime"
	"strconv"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	greet "wit_component/example_greeter_greet"
)

// Greet implements `greet: func(who: person) -> string`.
func Greet(who greet.Person) string {
	return fmt.Sprintf("Hello, %s (%d)!", who.Name, who.Age)
}

// TotalLength implements `total-length: func(words: list<string>) -> u32`.
func TotalLength(words []string) uint32 {
	total := 0
	for _, w := range words {
		total += len(w)
	}
	return uint32(total)
}

// Find implements `find: func(people: list<person>, name: string) -> option<person>`.
func Find(people []greet.Person, name string) witTypes.Option[greet.Person] {
	for _, p := range people {
		if p.Name == name {
			return witTypes.Some(p)
		}
	}
	return witTypes.None[greet.Person]()
}

// ParseAge implements `parse-age: func(text: string) -> result<u32, string>`.
func ParseAge(text string) witTypes.Result[uint32, string] {
	age, err := strconv.ParseUint(text, 10, 32)
	if err != nil {
		return witTypes.Err[uint32](err.Error())
	}
	return witTypes.Ok[uint32, string](uint32(age))
}

// Counter is the resource `counter`. The bindings need the pinner and handle
// fields, MakeCounter (the constructor) and OnDrop.
type Counter struct {
	pinner runtime.Pinner
	handle int32
	value  uint32
}

// MakeCounter implements `constructor(start: u32)`.
func MakeCounter(start uint32) *Counter {
	return &Counter{value: start}
}

// Increment implements `increment: func(by: u32) -> u32`.
func (c *Counter) Increment(by uint32) uint32 {
	c.value += by
	return c.value
}

// OnDrop runs when the last handle to the counter is dropped.
func (c *Counter) OnDrop() {}
