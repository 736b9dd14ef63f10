//! HTTP requests as journaled side effects (the host's `call` op `http`).
//!
//! The host commits an *intent* to the journal before it sends a request and the response
//! after, so a replay answers from the journal and never sends a request twice. A request whose
//! attempt died after the intent answers [`Error::Interrupted`] on replay, unless it was marked
//! [`Request::idempotent`]: then it is sent again, with the same `Idempotency-Key:
//! <job_id>:<seq>` header (every request carries one) so the receiver can de-duplicate. Hosts
//! outside the node's `Durable:HttpAllow` answer [`Error::Denied`].
//!
//! Bodies are text (the request and response travel as JSON strings).
//!
//! ```no_run
//! let page = flotilla::http::get("https://example.com/status").send()?;
//! if page.is_success() {
//!     flotilla::http::post("https://example.com/hook")
//!         .header("content-type", "application/json")
//!         .body(r#"{"ok": true}"#)
//!         .idempotent()
//!         .send()?;
//! }
//! # Ok::<(), flotilla::Error>(())
//! ```

use crate::json::{self, Value};
use crate::Error;

// Only a module that sends a request references these, so only such a module imports them
// (the linker drops unreferenced imports): a guest without HTTP runs on hosts without `call`.
mod sys {
    #[link(wasm_import_module = "flotilla")]
    extern "C" {
        #[link_name = "call"]
        pub fn call(op_ptr: *const u8, op_len: i32, req_ptr: *const u8, req_len: i32, flags: i32) -> i64;
        #[link_name = "response_read"]
        pub fn response_read(ptr: *mut u8, cap: i32) -> i32;
    }
}

/// `call` flag: on replay, send an interrupted request again instead of answering -3.
const FLAG_IDEMPOTENT: i32 = 1;

/// A request being built; [`Request::send`] makes the call.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    idempotent: bool,
}

/// The response to a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers, in the host's order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A `GET` request.
pub fn get(url: &str) -> Request {
    request("GET", url)
}

/// A `POST` request.
pub fn post(url: &str) -> Request {
    request("POST", url)
}

/// A `PUT` request.
pub fn put(url: &str) -> Request {
    request("PUT", url)
}

/// A `DELETE` request.
pub fn delete(url: &str) -> Request {
    request("DELETE", url)
}

/// A request with any method.
pub fn request(method: &str, url: &str) -> Request {
    Request { method: method.to_string(), url: url.to_string(), headers: Vec::new(), body: None, idempotent: false }
}

impl Request {
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body (text).
    pub fn body(mut self, body: impl Into<String>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// Marks the request safe to send twice: if an earlier attempt died before its response
    /// was journaled, the replay sends it again (same `Idempotency-Key`) instead of failing
    /// with [`Error::Interrupted`].
    pub fn idempotent(mut self) -> Request {
        self.idempotent = true;
        self
    }

    /// The request as the host reads it: `{"method","url","headers"?,"body"?}`.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"method\":");
        out.push_str(&json::quote(&self.method));
        out.push_str(",\"url\":");
        out.push_str(&json::quote(&self.url));
        if !self.headers.is_empty() {
            out.push_str(",\"headers\":{");
            for (i, (name, value)) in self.headers.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json::quote(name));
                out.push(':');
                out.push_str(&json::quote(value));
            }
            out.push('}');
        }
        if let Some(body) = &self.body {
            out.push_str(",\"body\":");
            out.push_str(&json::quote(body));
        }
        out.push('}');
        out
    }

    /// Sends the request (or, on replay, answers from the journal). An HTTP error status is
    /// an `Ok` response; `Err` is the host's refusal or an unreadable answer.
    pub fn send(self) -> Result<Response, Error> {
        let op = "http";
        let request = self.to_json();
        let flags = if self.idempotent { FLAG_IDEMPOTENT } else { 0 };
        let len = unsafe { sys::call(op.as_ptr(), op.len() as i32, request.as_ptr(), request.len() as i32, flags) };
        if len < 0 {
            return Err(Error::from_code(len));
        }
        let len = usize::try_from(len).map_err(|_| Error::TooLarge)?;
        let mut bytes = vec![0u8; len];
        let copied = unsafe { sys::response_read(bytes.as_mut_ptr(), len as i32) };
        if copied < 0 {
            return Err(Error::from_code(copied as i64));
        }
        bytes.truncate(copied as usize);
        let text = String::from_utf8(bytes).map_err(|_| Error::BadResponse("not UTF-8".to_string()))?;
        parse_response(&text)
    }
}

/// Reads the host's `{"status","headers","body"}`.
pub fn parse_response(text: &str) -> Result<Response, Error> {
    let value = json::parse(text).map_err(Error::BadResponse)?;
    let status = value
        .get("status")
        .and_then(Value::as_i64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or_else(|| Error::BadResponse("no status".to_string()))?;
    let headers = match value.get("headers") {
        Some(Value::Object(members)) => members
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k.clone(), s.clone()),
                // A header the host sent as a list: its values joined, as HTTP does.
                Value::Array(items) => (k.clone(), items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")),
                _ => (k.clone(), String::new()),
            })
            .collect(),
        _ => Vec::new(),
    };
    let body = value.get("body").and_then(Value::as_str).unwrap_or("").to_string();
    Ok(Response { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_request_shape() {
        let request = post("https://x/a?b=\"c\"").header("content-type", "application/json").body("{\"k\": 1}");
        assert_eq!(
            request.to_json(),
            r#"{"method":"POST","url":"https://x/a?b=\"c\"","headers":{"content-type":"application/json"},"body":"{\"k\": 1}"}"#
        );
        assert_eq!(get("https://x/").to_json(), r#"{"method":"GET","url":"https://x/"}"#);
    }

    #[test]
    fn reads_the_response_shape() {
        let response = parse_response(r#"{"status":201,"headers":{"Location":"/a","Vary":["x","y"]},"body":"ok"}"#).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.header("location"), Some("/a"));
        assert_eq!(response.header("vary"), Some("x, y"));
        assert_eq!(response.body, "ok");
        assert!(response.is_success());
        assert!(matches!(parse_response("{\"body\":\"\"}"), Err(Error::BadResponse(_))));
    }
}
