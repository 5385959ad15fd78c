//! Rendering checks that need no toolchain; tests/new_world.rs builds and runs the
//! stubs with the real ones.

use super::*;
use std::path::Path;

fn fixture(name: &str) -> (Resolve, WorldId) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let mut resolve = Resolve::new();
    let (pkg, _) = resolve.push_dir(&dir).unwrap();
    let world = resolve.select_world(&[pkg], None).unwrap();
    (resolve, world)
}

fn render(language: Language, name: &str) -> BTreeMap<String, String> {
    let (resolve, world) = fixture(name);
    generate(language, &resolve, world).unwrap()
}

#[track_caller]
fn has(text: &str, wanted: &str) {
    assert!(text.contains(wanted), "missing `{wanted}` in:\n{text}");
}

#[test]
fn rust_signatures_follow_wit_bindgen() {
    let files = render(Language::Rust, "rich-world");
    assert_eq!(files.keys().collect::<Vec<_>>(), ["src/lib.rs"]);
    let lib = &files["src/lib.rs"];
    has(
        lib,
        "generate!({ path: \"wit\", world: \"rich\", generate_all });",
    );
    has(lib, "use crate::exports::example::rich::shapes::*;");
    has(lib, "fn add(a: i32, b: i32) -> i32 {");
    has(lib, "fn bounds(pts: Points) -> (Point, Point) {");
    has(
        lib,
        "fn label_all(shapes: Vec<Shape>, base: Option<Label>) -> Result<Labels, String> {",
    );
    has(lib, "fn check(data: Vec<u8>) -> Result<(), String> {");
    has(lib, "fn classify(x: f64) -> Result<u32, ()> {");
    has(lib, "type Canvas = MyCanvas;");
    has(lib, "impl GuestCanvas for MyCanvas {");
    has(lib, "fn new(width: u32, height: u32) -> Self {");
    has(lib, "fn merge(&self, other: CanvasBorrow<'_>) -> Canvas {");
    has(lib, "fn blank() -> Canvas {");
    has(
        lib,
        "Err(\"not implemented: example:rich/shapes@0.1.0#check\".to_string())",
    );
    has(
        lib,
        "panic!(\"not implemented: example:rich/shapes@0.1.0#[method]canvas.size\")",
    );

    let lib = &render(Language::Rust, "edge-world")["src/lib.rs"];
    // Keywords get wit-bindgen's trailing `_`; imported resources are borrowed as `&`.
    has(lib, "fn type_(in_: Pair, loop_: MaybeName) -> Outcome {");
    has(lib, "fn for_(yield_: Name, as_token: Token) -> Match {");
    has(lib, "fn read_blob(b: &Blob) -> Meta {");
    has(lib, "use crate::exports::inline::*;");
    has(lib, "fn static_(at: u32) -> Cursor {");
    has(lib, "fn summarize(s: Stats) -> Result<Stats, String> {");
}

#[test]
fn go_signatures_follow_wit_bindgen_go() {
    let files = render(Language::Go, "rich-world");
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "export_example_rich_shapes/shapes.go",
            "export_wit_world/wit_world.go"
        ]
    );
    let go = &files["export_example_rich_shapes/shapes.go"];
    has(go, "package export_example_rich_shapes\n");
    has(go, "\"wit_component/example_types_geometry\"");
    // Tuple results are several results; tuple and other types elsewhere are generic.
    has(
        go,
        "func Bounds(pts []example_types_geometry.Point) (example_types_geometry.Point, \
         example_types_geometry.Point) {",
    );
    has(
        go,
        "func Check(data []uint8) witTypes.Result[witTypes.Unit, string] {\n\treturn \
         witTypes.Err[witTypes.Unit, string](\"not implemented: \
         example:rich/shapes@0.1.0#check\")",
    );
    has(
        go,
        "type Canvas struct {\n\tpinner runtime.Pinner\n\thandle int32\n}",
    );
    has(go, "func MakeCanvas(width uint32, height uint32) *Canvas {");
    has(go, "func (self *Canvas) Merge(other *Canvas) *Canvas {");
    has(go, "func CanvasBlank() *Canvas {");
    has(go, "func (self *Canvas) OnDrop() {}");
    has(
        &files["export_wit_world/wit_world.go"],
        "func Add(a int32, b int32) int32 {",
    );

    let files = render(Language::Go, "edge-world");
    let go = &files["export_example_edge_keywords/keywords.go"];
    has(
        go,
        "func Type(in witTypes.Tuple2[int64, float32], loop witTypes.Option[string]) \
         witTypes.Result[uint16, string] {",
    );
    has(
        go,
        "func ReadBlob(b *example_edge_host_things.Blob) example_edge_host_things.Meta {",
    );
    has(
        &files["export_inline/inline.go"],
        "func CursorStatic(at uint32) *Cursor {",
    );
    has(
        &files["export_wit_world/wit_world.go"],
        "func Summarize(s wit_world.Stats) witTypes.Result[wit_world.Stats, string] {",
    );
}

#[test]
fn python_classes_follow_componentize_py() {
    let files = render(Language::Python, "rich-world");
    assert_eq!(files.keys().collect::<Vec<_>>(), ["app.py", "shapes.py"]);
    let app = &files["app.py"];
    has(app, "class WitWorld(wit_world.WitWorld):");
    has(app, "class Shapes(exports.Shapes):");
    has(
        app,
        "    def parse_color(self, name: str) -> shapes.Color:\n        raise \
         Err(\"not implemented: example:rich/shapes@0.1.0#parse-color\")",
    );
    has(
        app,
        "raise NotImplementedError(\"not implemented: example:rich/shapes@0.1.0#describe\")",
    );
    let res = &files["shapes.py"];
    has(res, "class Canvas(shapes.Canvas):");
    has(
        res,
        "    def __init__(self, width: int, height: int) -> None:",
    );
    has(
        res,
        "    @classmethod\n    def blank(cls) -> shapes.Canvas:",
    );

    let app = &render(Language::Python, "edge-world")["app.py"];
    // A named result is returned, not raised.
    has(
        app,
        "def type(self, in_: Tuple[int, float], loop: Optional[str]) -> Result[int, str]:\n        \
         return Err(",
    );
    has(
        app,
        "def for_(self, yield_: str, as_token: types_only.Token)",
    );
}

#[test]
fn js_objects_follow_componentize_js() {
    let files = render(Language::Javascript, "rich-world");
    let js = &files["app.js"];
    has(js, "export function add(a, b) {");
    has(js, "export const shapes = {");
    has(js, "  parseColor(name) {\n    throw new ComponentError(");
    has(js, "  Canvas: class Canvas {");
    has(js, "    static blank() {");

    let js = &render(Language::Javascript, "edge-world")["app.js"];
    // Reserved words stay as method names; a named result is returned as a value.
    has(js, "  for(yield_, asToken) {");
    has(
        js,
        "  type(in_, loop) {\n    return { tag: \"err\", val: \"not implemented: \
         example:edge/keywords@0.2.0#type\" };",
    );
    has(js, "    static static(at) {");
    has(js, "export const inline = {");
}

#[test]
fn string_errors_are_found_through_aliases() {
    let (resolve, world) = fixture("edge-world");
    let w = &resolve.worlds[world];
    let keywords = w
        .exports
        .values()
        .find_map(|i| match i {
            WorldItem::Interface { id, .. }
                if resolve.interfaces[*id].name.as_deref() == Some("keywords") =>
            {
                Some(&resolve.interfaces[*id])
            }
            _ => None,
        })
        .unwrap();
    let f = |n: &str| &keywords.functions[n];
    // `outcome` = result<u16, string>; `result<_, name>` with `name` = string.
    assert!(returns_string_error(&resolve, f("type")));
    assert!(result_is_named(&resolve, f("type")));
    assert!(returns_string_error(&resolve, f("take-blob")));
    assert!(!result_is_named(&resolve, f("take-blob")));
    assert!(!returns_string_error(&resolve, f("for")));
    assert!(!returns_string_error(&resolve, f("nothing")));
}
