//! The `{{ name }}` component.

wit_bindgen::generate!({ path: "wit", world: "{{ world }}" });

use exports::{{ namespace | replace("-", "_") }}::{{ snake_name }}::greeter::Guest;

struct Component;

impl Guest for Component {
    fn greet(name: String) -> String {
        format!("{{ greeting }}, {name}!")
    }
}

export!(Component);
