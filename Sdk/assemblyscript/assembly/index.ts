// Flotilla's guest SDK for durable workflows written in AssemblyScript.
//
// A workflow is a WASI command (build with @assemblyscript/wasi-shim, which exports `_start`):
// the job's payload is on stdin as JSON, the result is the JSON it prints to stdout, exit code
// 0 is success. A module that calls anything here imports the host module `flotilla` and runs
// as a durable workflow: every call below (except `log`), and WASI's clock and randomness (so
// `Date.now()` and `Math.random()`'s seed too), is journaled in the cluster's Raft log. When the
// job runs again (a retry after a failed attempt, or another node after this one died) the
// calls are answered from the journal in order, then go live. A guest that asks for something
// else than the journal holds at that point fails for good with `nondeterminism at seq N: ...`,
// so keep the sequence of calls a function of the payload and of earlier answers.
//
// AssemblyScript compiles only what is reachable, so a module imports `flotilla.call` and
// `flotilla.response_read` only when it sends an HTTP request.

export { JsonValue, JsonKind, parseJson, quote } from "./json";
import { JsonValue, JsonKind, parseJson, quote } from "./json";

// The raw imports, as the host defines them (the guest ABI).
@external("flotilla", "now_ms")
declare function flotilla_now_ms(): i64;
@external("flotilla", "random_bytes")
declare function flotilla_random_bytes(ptr: usize, len: i32): i32;
@external("flotilla", "sleep_ms")
declare function flotilla_sleep_ms(ms: i64): i32;
@external("flotilla", "log")
declare function flotilla_log(level: i32, ptr: usize, len: i32): void;
@external("flotilla", "call")
declare function flotilla_call(opPtr: usize, opLen: i32, reqPtr: usize, reqLen: i32, flags: i32): i64;
@external("flotilla", "response_read")
declare function flotilla_response_read(ptr: usize, cap: i32): i32;

/** What a host call refused: its negative result (None when it did not). */
export enum HostError {
  None = 0,
  /** -1: an argument the host found invalid (outside memory, a malformed request). */
  BadArgument = -1,
  /** -2: a request or response over the host's limit (1 MiB a journal entry). */
  TooLarge = -2,
  /** -3: an earlier attempt sent this request and its outcome is unknown (the node died mid-call). */
  Interrupted = -3,
  /** -4: the host may not be called (not in the node's Durable:HttpAllow). */
  Denied = -4,
  /** The host's answer was not the JSON this SDK expects. */
  BadResponse = -100,
}

/** A readable reason for a HostError. */
export function describe(error: HostError): string {
  switch (error) {
    case HostError.None: return "ok";
    case HostError.BadArgument: return "bad argument";
    case HostError.TooLarge: return "too large";
    case HostError.Interrupted: return "interrupted (an earlier attempt sent it; its outcome is unknown)";
    case HostError.Denied: return "denied (the host is not in Durable:HttpAllow)";
    case HostError.BadResponse: return "bad response";
    default: return "host error " + (<i32>error).toString();
  }
}

/** The most bytes one random_bytes call returns (one journal entry); random() asks in chunks. */
const RANDOM_CHUNK: i32 = 1024 * 1024;

/** Wall clock in Unix milliseconds; a replay returns the journaled value. */
export function nowMs(): i64 {
  return flotilla_now_ms();
}

/** Wall clock as a Date; a replay returns the journaled value. */
export function now(): Date {
  return new Date(flotilla_now_ms());
}

/** Fills `buffer` with random bytes; a replay returns the journaled bytes. */
export function random(buffer: Uint8Array): void {
  for (let at = 0; at < buffer.length; at += RANDOM_CHUNK) {
    const len = min(RANDOM_CHUNK, buffer.length - at);
    const code = flotilla_random_bytes(buffer.dataStart + <usize>at, len);
    // Our own memory, no longer than the host's limit: it cannot be refused.
    assert(code == 0, "flotilla random_bytes refused");
  }
}

/** `length` random bytes; a replay returns the journaled bytes. */
export function randomBytes(length: i32): Uint8Array {
  const bytes = new Uint8Array(length);
  random(bytes);
  return bytes;
}

/**
 * Sleeps `milliseconds`. Journaled as the absolute wake-up time: a replay after it returns at
 * once, one before it sleeps only what is left. A sleep of the node's Durable:ParkThresholdMs
 * (default 5 s) or more parks the job: the guest stops here, its slot is freed, and at the
 * wake-up time any node runs it again, replaying the journal up to this call, which then
 * returns. A shorter one waits in place (counting against the job's timeout); one of 1 s or
 * more first commits the calls made so far.
 */
export function sleep(milliseconds: i64): void {
  const code = flotilla_sleep_ms(milliseconds < 0 ? 0 : milliseconds);
  assert(code == 0, "flotilla sleep_ms refused");
}

/** Log levels. */
export enum Level {
  Debug = 0,
  Info = 1,
  Warn = 2,
  Error = 3,
}

/**
 * A log line on the job's `job.execute` span (at most 4 KiB). Not journaled, and not repeated
 * while a retry replays the calls an earlier attempt made.
 */
export function log(level: Level, message: string): void {
  const bytes = String.UTF8.encode(message);
  flotilla_log(<i32>level, changetype<usize>(bytes), bytes.byteLength);
}

/** log() at Level.Info. */
export function info(message: string): void {
  log(Level.Info, message);
}

/**
 * HTTP requests as journaled side effects (the host's `call` op `http`). The host journals an
 * intent before it sends and the response after, so a replay answers from the journal and
 * never sends twice. A request whose attempt died after the intent answers
 * HostError.Interrupted on replay, unless it was marked idempotent(): then it is sent again
 * with the same `Idempotency-Key: <job_id>:<seq>` header. Bodies are text.
 */
export namespace http {
  /** `call` flag: on replay, send an interrupted request again instead of answering -3. */
  const FLAG_IDEMPOTENT: i32 = 1;

  /** The response to a request, or the host's refusal (`error`). */
  export class Response {
    /** HostError.None when the request got an answer (whatever its status). */
    error: HostError = HostError.None;
    status: i32 = 0;
    /** Header names in the host's spelling; values of repeated headers joined with ", ". */
    headers: Map<string, string> = new Map<string, string>();
    body: string = "";

    /** Whether the host refused or the answer was unreadable (see `error`). */
    get failed(): bool {
      return this.error != HostError.None;
    }

    /** An answer with a 2xx status. */
    get isSuccess(): bool {
      return !this.failed && this.status >= 200 && this.status < 300;
    }

    /** The first header named `name` (case-insensitive), or null. */
    header(name: string): string | null {
      const keys = this.headers.keys();
      const wanted = name.toLowerCase();
      for (let i = 0; i < keys.length; i++) {
        if (keys[i].toLowerCase() == wanted) return this.headers.get(keys[i]);
      }
      return null;
    }
  }

  /** A request being built; send() makes the call. */
  export class Request {
    private names: string[] = [];
    private values: string[] = [];
    private text: string | null = null;
    private retrySafe: bool = false;

    constructor(public method: string, public url: string) {}

    /** Adds a header. */
    header(name: string, value: string): Request {
      this.names.push(name);
      this.values.push(value);
      return this;
    }

    /** Sets the body (text). */
    body(text: string): Request {
      this.text = text;
      return this;
    }

    /**
     * Marks the request safe to send twice: if an earlier attempt died before its response was
     * journaled, the replay sends it again (same Idempotency-Key) instead of answering Interrupted.
     */
    idempotent(): Request {
      this.retrySafe = true;
      return this;
    }

    /** The request as the host reads it: {"method","url","headers"?,"body"?}. */
    toJson(): string {
      let out = '{"method":' + quote(this.method) + ',"url":' + quote(this.url);
      if (this.names.length > 0) {
        out += ',"headers":{';
        for (let i = 0; i < this.names.length; i++) {
          if (i > 0) out += ",";
          out += quote(this.names[i]) + ":" + quote(this.values[i]);
        }
        out += "}";
      }
      const text = this.text;
      if (text !== null) out += ',"body":' + quote(text);
      return out + "}";
    }

    /**
     * Sends the request (or, on replay, answers from the journal). An HTTP error status is an
     * answer; `error` is set only when the host refused or the answer was unreadable.
     */
    send(): Response {
      const op = String.UTF8.encode("http");
      const request = String.UTF8.encode(this.toJson());
      const len = flotilla_call(
        changetype<usize>(op), op.byteLength,
        changetype<usize>(request), request.byteLength,
        this.retrySafe ? FLAG_IDEMPOTENT : 0);
      if (len < 0) return refused(<HostError><i32>len);
      if (len > <i64>i32.MAX_VALUE) return refused(HostError.TooLarge);
      const bytes = new ArrayBuffer(<i32>len);
      const copied = flotilla_response_read(changetype<usize>(bytes), <i32>len);
      if (copied < 0) return refused(<HostError>copied);
      return parseResponse(String.UTF8.decode(bytes.slice(0, copied)));
    }
  }

  /** A GET request. */
  export function get(url: string): Request {
    return new Request("GET", url);
  }

  /** A POST request. */
  export function post(url: string): Request {
    return new Request("POST", url);
  }

  /** A PUT request. */
  export function put(url: string): Request {
    return new Request("PUT", url);
  }

  /** A DELETE request. */
  export function del(url: string): Request {
    return new Request("DELETE", url);
  }

  /** Reads the host's {"status","headers","body"}. */
  export function parseResponse(text: string): Response {
    const value = parseJson(text);
    if (value === null) return refused(HostError.BadResponse);
    const status = value.get("status");
    if (status === null || status.kind != JsonKind.Number) return refused(HostError.BadResponse);
    const response = new Response();
    response.status = <i32>status.number;
    const headers = value.get("headers");
    if (headers !== null && headers.kind == JsonKind.Object) {
      for (let i = 0; i < headers.keys.length; i++) {
        const item = headers.items[i];
        let joined = "";
        if (item.kind == JsonKind.String) {
          joined = item.text;
        } else if (item.kind == JsonKind.Array) {
          // A header the host sent as a list: its values joined, as HTTP does.
          for (let j = 0; j < item.items.length; j++) {
            if (j > 0) joined += ", ";
            joined += item.items[j].text;
          }
        }
        response.headers.set(headers.keys[i], joined);
      }
    }
    const body = value.get("body");
    if (body !== null && body.kind == JsonKind.String) response.body = body.text;
    return response;
  }

  function refused(error: HostError): Response {
    const response = new Response();
    response.error = error;
    return response;
  }
}
