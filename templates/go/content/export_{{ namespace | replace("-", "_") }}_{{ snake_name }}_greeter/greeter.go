// Package export_{{ namespace | replace("-", "_") }}_{{ snake_name }}_greeter implements the
// exported interface {{ namespace }}:{{ package }}/greeter.
package export_{{ namespace | replace("-", "_") }}_{{ snake_name }}_greeter

// Greet implements `greet: func(name: string) -> string`.
func Greet(name string) string {
	return "{{ greeting }}, " + name + "!"
}
