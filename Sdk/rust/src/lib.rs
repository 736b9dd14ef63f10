//! Flotilla's guest SDK for durable workflows written in Rust.
//!
//! A workflow is a WASI command (`fn main`, built for `wasm32-wasi`): the job's payload is on
//! stdin as JSON, the result is the JSON it prints to stdout, exit code 0 is success. A module
//! that calls anything here imports the host module `flotilla` and runs as a **durable**
//! workflow: every call below (except [`log`]), and WASI's clock and randomness (so
//! `std::time::SystemTime::now()` too), is journaled in the cluster's Raft log. When the job runs
//! again (a retry after a failed attempt, or another node after this one died) the calls are
//! answered from the journal in order, then go live. A guest that asks for something else than
//! the journal holds at that point fails for good with `nondeterminism at seq N: …`, so keep the
//! sequence of calls a function of the payload and of earlier answers.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! let mut lucky = [0u8; 8];
//! flotilla::random(&mut lucky);
//! let at = flotilla::now_ms();
//! flotilla::sleep(Duration::from_secs(2));
//! let reply = flotilla::http::post("https://example.com/done")
//!     .header("content-type", "application/json")
//!     .body(format!("{{\"at\": {}}}", at))
//!     .idempotent()
//!     .send();
//! ```
//!
//! No dependencies and no build script: it builds with `rustc --target wasm32-wasi` alone
//! (see `build.sh`). The `flotilla` imports of [`http`] (`call`, `response_read`) are linked
//! only into a module that sends a request; the rest stays out of a module that does not.

#![warn(missing_docs)]

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub mod http;
pub mod json;

/// The raw imports, as the host defines them (the guest ABI).
mod sys {
    #[link(wasm_import_module = "flotilla")]
    extern "C" {
        #[link_name = "now_ms"]
        pub fn now_ms() -> i64;
        #[link_name = "random_bytes"]
        pub fn random_bytes(ptr: *mut u8, len: i32) -> i32;
        #[link_name = "sleep_ms"]
        pub fn sleep_ms(ms: i64) -> i32;
        #[link_name = "log"]
        pub fn log(level: i32, ptr: *const u8, len: i32);
    }
}

/// The most bytes one `random_bytes` call returns (one journal entry); [`random`] asks in chunks.
const RANDOM_CHUNK: usize = 1024 * 1024;

/// What a host call refused, from its negative result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// -1: the host found an argument invalid (a pointer outside memory, a malformed request).
    BadArgument,
    /// -2: a request or response over the host's limit (1 MiB a journal entry).
    TooLarge,
    /// -3: an earlier attempt sent this request and its outcome is unknown (the node died
    /// mid-call). Send it again with [`http::Request::idempotent`] if the receiver
    /// de-duplicates (every request carries `Idempotency-Key: <job_id>:<seq>`).
    Interrupted,
    /// -4: the host may not be called (it is not in the node's `Durable:HttpAllow`).
    Denied,
    /// A negative result this SDK does not know.
    Other(i64),
    /// The host's response was not the JSON this SDK expects.
    BadResponse(String),
}

impl Error {
    /// The error for a negative host result.
    pub fn from_code(code: i64) -> Error {
        match code {
            -1 => Error::BadArgument,
            -2 => Error::TooLarge,
            -3 => Error::Interrupted,
            -4 => Error::Denied,
            other => Error::Other(other),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadArgument => f.write_str("bad argument"),
            Error::TooLarge => f.write_str("too large"),
            Error::Interrupted => f.write_str("interrupted (an earlier attempt sent it; its outcome is unknown)"),
            Error::Denied => f.write_str("denied (the host is not in Durable:HttpAllow)"),
            Error::Other(code) => write!(f, "host error {}", code),
            Error::BadResponse(why) => write!(f, "bad response: {}", why),
        }
    }
}

impl std::error::Error for Error {}

/// Wall clock in Unix milliseconds; a replay returns the journaled value.
pub fn now_ms() -> i64 {
    unsafe { sys::now_ms() }
}

/// Wall clock as a [`SystemTime`] (millisecond precision); a replay returns the journaled value.
pub fn now() -> SystemTime {
    let ms = now_ms();
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Fills `buffer` with random bytes; a replay returns the journaled bytes. Buffers over 1 MiB
/// take one journal entry per MiB.
pub fn random(buffer: &mut [u8]) {
    for chunk in buffer.chunks_mut(RANDOM_CHUNK) {
        let code = unsafe { sys::random_bytes(chunk.as_mut_ptr(), chunk.len() as i32) };
        // A slice of our own memory no longer than the host's limit: it cannot be refused.
        assert!(code == 0, "flotilla random_bytes: {}", Error::from_code(code as i64));
    }
}

/// Sleeps for `duration` (rounded up to whole milliseconds). Journaled as the absolute wake-up
/// time: a replay after it returns at once, one before it sleeps only what is left. A sleep of
/// the node's `Durable:ParkThresholdMs` (default 5 s) or more parks the job: the guest stops here,
/// its slot is freed, and at the wake-up time any node runs it again, replaying the journal up to
/// this call, which then returns. A shorter one waits in place (counting against the job's
/// timeout); one of 1 s or more first commits the calls made so far.
pub fn sleep(duration: Duration) {
    let ms = duration.as_millis() + u128::from(duration.subsec_nanos() % 1_000_000 != 0);
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    let code = unsafe { sys::sleep_ms(ms) };
    assert!(code == 0, "flotilla sleep_ms: {}", Error::from_code(code as i64));
}

/// The level of a [`log`] line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum Level {
    /// Detail.
    Debug = 0,
    /// Progress.
    Info = 1,
    /// Something odd.
    Warn = 2,
    /// Something failed.
    Error = 3,
}

/// A log line on the job's `job.execute` span (at most 4 KiB). Not journaled, and not repeated
/// while a retry replays the calls an earlier attempt made.
pub fn log(level: Level, message: &str) {
    let len = message.len().min(i32::MAX as usize) as i32;
    unsafe { sys::log(level as i32, message.as_ptr(), len) }
}

/// [`log`] at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message)
}
