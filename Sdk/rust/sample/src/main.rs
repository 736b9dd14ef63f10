//! A durable sample: draws a lucky number and notes the time, fetches a URL, sleeps, posts the
//! result to another URL and prints it.
//!
//! Payload (every field optional):
//! - `sleep_ms`: how long to sleep (default 10). A sleep of 1 s or more first commits the calls
//!   made so far, so a node that dies during it leaves them to the next attempt.
//! - `fail_first`: fail the first attempt after drawing; the retry replays the journal and
//!   reports the same number and time.
//! - `diverge`: ask for something else on a retry than on the first attempt (a bug a durable
//!   workflow must not have): the retry fails with a nondeterminism error.
//! - `url`: fetched (GET) before the sleep; `post_url`: the result is posted there after it
//!   (an idempotent request). Only in the build with the `http` feature (`lucky_http.wasm`):
//!   without it the module does not import `flotilla.call`.
//!
//! Output: `{"lucky": hex, "now_ms": n, "time": unix seconds, "attempt": n, "fetched"?: {...},
//! "posted"?: status}`.

use std::io::Read;
use std::process::exit;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flotilla::json::{self, Value};

fn main() {
    let mut text = String::new();
    if std::io::stdin().read_to_string(&mut text).is_err() {
        fail(2, "the payload is not UTF-8");
    }
    let payload = json::parse(&text).unwrap_or_else(|e| fail(2, &format!("the payload is not JSON: {}", e)));
    let flag = |name: &str| payload.get(name).and_then(Value::as_bool).unwrap_or(false);
    let attempt: i64 = std::env::var("FLOTILLA_ATTEMPT").ok().and_then(|a| a.parse().ok()).unwrap_or(1);

    if flag("diverge") {
        // Branches on something outside the journal: the attempt number.
        if attempt > 1 {
            flotilla::random(&mut [0u8; 1]);
        } else {
            flotilla::now_ms();
        }
        fail(1, "diverge: failing the first attempt");
    }

    let mut lucky = [0u8; 8];
    flotilla::random(&mut lucky);
    let lucky: String = lucky.iter().map(|b| format!("{:02x}", b)).collect();
    let at = flotilla::now_ms();
    // WASI clock_time_get: journaled too.
    let time = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);

    // What the HTTP part adds to the result (nothing in the build without it).
    #[allow(unused_mut)]
    let mut extra = String::new();
    #[cfg(feature = "http")]
    if let Some(url) = payload.get("url").and_then(Value::as_str) {
        let page = flotilla::http::get(url).send().unwrap_or_else(|e| fail(1, &format!("GET {}: {}", url, e)));
        let head: String = page.body.chars().take(100).collect();
        extra.push_str(&format!(
            ", \"fetched\": {{\"status\": {}, \"length\": {}, \"head\": {}}}",
            page.status,
            page.body.len(),
            json::quote(&head)
        ));
    }

    let sleep_ms = payload.get("sleep_ms").and_then(Value::as_i64).unwrap_or(10);
    flotilla::sleep(Duration::from_millis(sleep_ms.max(0) as u64));
    flotilla::info(&format!("drew {} at {}", lucky, at));

    if attempt == 1 && flag("fail_first") {
        fail(1, &format!("failing attempt 1 after drawing {}", lucky));
    }

    let result = format!("{{\"lucky\": \"{}\", \"now_ms\": {}, \"time\": {}, \"attempt\": {}{}}}", lucky, at, time, attempt, extra);

    #[cfg(feature = "http")]
    if let Some(url) = payload.get("post_url").and_then(Value::as_str) {
        let posted = flotilla::http::post(url)
            .header("content-type", "application/json")
            .body(result.as_str())
            .idempotent()
            .send()
            .unwrap_or_else(|e| fail(1, &format!("POST {}: {}", url, e)));
        println!("{}, \"posted\": {}}}", &result[..result.len() - 1], posted.status);
        return;
    }

    println!("{}", result);
}

fn fail(code: i32, why: &str) -> ! {
    eprintln!("{}", why);
    exit(code)
}
