//! Request bodies and query strings of any bytes, under every content type the endpoints accept.
#![no_main]

use integrations::http::Fields;
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [&str; 5] = [
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "application/json",
    "multipart/form-data",
    "text/plain",
];

fuzz_target!(|input: (u8, Vec<u8>)| {
    let (selector, bytes) = input;
    let _ = Fields::from_query(&bytes);
    let request = http::Request::builder()
        .method("POST")
        .uri("https://api.example/integrations/notion/authorize")
        .header("content-type", CONTENT_TYPES[selector as usize % CONTENT_TYPES.len()])
        .body(Body::Binary(bytes))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    if let Ok(fields) = runtime.block_on(Fields::from_request(&request)) {
        let _ = fields.identity();
        let _ = fields.access_token();
    }
});
