//! The pipeline's HTTP front: `example:pipeline/api` (the composed normaliser, validator
//! and adapter) served as a REST service through `wasi:http/incoming-handler`.
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /signups`, a JSON array of `{email, name, age, country}` | 201 `{"stored": N, "rejected": [{"index", "errors": [{"field", "message"}]}]}` |
//! | `GET /signups`, `GET /signups?country=GB` | 200, a JSON array of sign-ups |
//! | a body that is not such an array | 400 `{"error": "..."}` |
//! | another method on `/signups` | 405 |
//! | another path | 404 |
//! | the pipeline fails (the database) | 500 `{"error": "..."}` |

wit_bindgen::generate!({
    path: "../wit",
    world: "front",
    additional_derives: [serde::Serialize, serde::Deserialize],
});

use example::pipeline::api;
use example::pipeline::types::Signup;
use std::io::Read as _;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// The largest request body read (the host may have a lower limit of its own).
const MAX_BODY: u64 = 16 << 20;

struct Front;

impl wasip2::exports::http::incoming_handler::Guest for Front {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let answer = route(&request);
        respond(response_out, answer);
    }
}

wasip2::http::proxy::export!(Front);

/// A status, a JSON body and any extra headers.
struct Answer {
    status: u16,
    body: String,
    allow: Option<&'static str>,
}

fn json(status: u16, value: &impl serde::Serialize) -> Answer {
    Answer {
        status,
        body: serde_json::to_string(value).expect("JSON for plain records"),
        allow: None,
    }
}

fn error(status: u16, message: &str) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}

fn route(request: &IncomingRequest) -> Answer {
    let target = request.path_with_query().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if path != "/signups" {
        return error(404, &format!("no route for `{path}`: try /signups"));
    }
    match request.method() {
        Method::Get => {
            let country = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("country="))
                .filter(|c| !c.is_empty());
            match api::query(country) {
                Ok(signups) => json(200, &signups),
                Err(e) => error(500, &e),
            }
        }
        Method::Post => {
            let body = match read_body(request) {
                Ok(body) => body,
                Err(answer) => return answer,
            };
            let records: Vec<Signup> = match serde_json::from_slice(&body) {
                Ok(records) => records,
                Err(e) => {
                    return error(
                        400,
                        &format!("expected a JSON array of {{email, name, age, country}}: {e}"),
                    );
                }
            };
            match api::ingest(&records) {
                Ok(report) => json(201, &report),
                Err(e) => error(500, &e),
            }
        }
        _ => Answer {
            allow: Some("GET, POST"),
            ..error(405, "/signups takes GET and POST")
        },
    }
}

fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Answer> {
    let body = request
        .consume()
        .map_err(|()| error(500, "the request body was already taken"))?;
    let mut stream = body
        .stream()
        .map_err(|()| error(500, "the request body's stream was already taken"))?;
    let mut bytes = Vec::new();
    let read = std::io::Read::by_ref(&mut stream)
        .take(MAX_BODY + 1)
        .read_to_end(&mut bytes);
    drop(stream);
    drop(body);
    match read {
        Ok(_) if bytes.len() as u64 > MAX_BODY => Err(error(413, "the request body is too large")),
        Ok(_) => Ok(bytes),
        Err(e) => Err(error(400, &format!("cannot read the request body: {e}"))),
    }
}

fn respond(response_out: ResponseOutparam, answer: Answer) {
    let mut headers = vec![("content-type".to_string(), b"application/json".to_vec())];
    if let Some(allow) = answer.allow {
        headers.push(("allow".to_string(), allow.as_bytes().to_vec()));
    }
    let headers = Fields::from_list(&headers).expect("valid headers");
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(answer.status)
        .expect("a valid status");
    let outgoing = response.body().expect("the body, taken once");
    ResponseOutparam::set(response_out, Ok(response));
    let stream = outgoing.write().expect("the body's stream, taken once");
    // One call writes at most 4096 bytes.
    for chunk in answer.body.as_bytes().chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            // The client went away; there is no one left to tell.
            return;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(outgoing, None);
}
