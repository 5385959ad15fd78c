//! The `{{ name }}` HTTP handler.
//!
//! `GET /` and `GET /hello/<name>` answer greetings, `GET /count` the number of requests
//! this instance has handled (1 under `wcomp serve`, which gives every request a fresh
//! instance), other paths 404 and other methods 405.

wit_bindgen::generate!({ path: "wit", world: "{{ world }}", generate_all });

use exports::wasi::http::incoming_handler::Guest;
use std::sync::atomic::{AtomicU64, Ordering};
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// Requests this instance has handled: module state, to show that instances are isolated.
static REQUESTS: AtomicU64 = AtomicU64::new(0);

struct Component;

impl Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let count = REQUESTS.fetch_add(1, Ordering::Relaxed) + 1;
        let target = request.path_with_query().unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default();
        let (status, body) = route(&request.method(), path, count);
        respond(response_out, status, &body);
    }
}

fn route(method: &Method, path: &str, count: u64) -> (u16, String) {
    if !matches!(method, Method::Get) {
        return (405, "method not allowed\n".to_string());
    }
    match path {
        "/" => (200, "{{ greeting }}, World!\n".to_string()),
        "/count" => (200, format!("{count}\n")),
        _ => match path.strip_prefix("/hello/") {
            Some(name) if !name.is_empty() && !name.contains('/') => {
                (200, format!("{{ greeting }}, {name}!\n"))
            }
            _ => (404, "not found\n".to_string()),
        },
    }
}

fn respond(response_out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::from_list(&[(
        "content-type".to_string(),
        b"text/plain; charset=utf-8".to_vec(),
    )])
    .expect("a valid header");
    let response = OutgoingResponse::new(headers);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(response_out, Ok(response));
    let stream = outgoing.write().expect("the body's stream, taken once");
    // One call writes at most 4096 bytes.
    for chunk in body.as_bytes().chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .expect("writing the body");
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finishing the body");
}

export!(Component);
