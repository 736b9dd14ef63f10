/*
 * flotilla.h: the durable-workflow ABI for C guests (header-only).
 *
 * A WASI command module that calls anything here imports the `flotilla` module and is run as a
 * durable workflow: every call below (except flotilla_log), and WASI's clock_time_get and
 * random_get (so time(), clock_gettime() and getentropy() too), is journaled in the cluster's
 * Raft log with the attempt's outcome. When the job runs again (a retry after a failure, or
 * another node after this one died), the calls are answered from the journal in order, and a
 * guest that asks something else than the journal holds fails for good with
 * "nondeterminism at seq N: journal has X, guest asked Y". Keep the sequence of calls a
 * function of the payload and of earlier answers. flotilla_call/flotilla_http are side effects:
 * journaled as an intent before the request goes out and a result after, never sent twice
 * by a replay (unless FLOTILLA_IDEMPOTENT asks to re-send one whose outcome was lost).
 *
 * Build: clang --target=wasm32-wasi --sysroot=/usr -O2 -I Sdk/c -Wl,--strip-all -o job.wasm job.c
 */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FLOTILLA_IMPORT(name) __attribute__((import_module("flotilla"), import_name(name)))

/* The raw imports, as the host defines them. */
FLOTILLA_IMPORT("now_ms") int64_t __flotilla_now_ms(void);
FLOTILLA_IMPORT("random_bytes") int32_t __flotilla_random_bytes(void *ptr, int32_t len);
FLOTILLA_IMPORT("sleep_ms") int32_t __flotilla_sleep_ms(int64_t ms);
FLOTILLA_IMPORT("log") void __flotilla_log(int32_t level, const char *ptr, int32_t len);
FLOTILLA_IMPORT("call") int64_t __flotilla_call(const char *op, int32_t op_len, const char *req, int32_t req_len, int32_t flags);
FLOTILLA_IMPORT("response_read") int32_t __flotilla_response_read(void *ptr, int32_t cap);

/* Results (negative: errors). */
#define FLOTILLA_OK 0
#define FLOTILLA_BAD_ARGUMENT (-1)
#define FLOTILLA_TOO_LARGE (-2)
#define FLOTILLA_INTERRUPTED (-3) /* an earlier attempt sent this request; its outcome is unknown */
#define FLOTILLA_DENIED (-4)      /* the host is not in the cluster's Durable:HttpAllow */

/* Flags of flotilla_call. */
#define FLOTILLA_IDEMPOTENT 1 /* on replay, send an interrupted call again instead of answering -3 */

/* Log levels for flotilla_log. */
#define FLOTILLA_DEBUG 0
#define FLOTILLA_INFO 1
#define FLOTILLA_WARN 2
#define FLOTILLA_ERROR 3

/* Wall clock in Unix milliseconds; a replay returns the journaled value. */
static inline int64_t flotilla_now_ms(void) { return __flotilla_now_ms(); }

/* Fills len bytes (at most 1 MiB) with random bytes; a replay returns the journaled bytes.
 * FLOTILLA_OK, FLOTILLA_BAD_ARGUMENT (outside memory), FLOTILLA_TOO_LARGE. */
static inline int32_t flotilla_random_bytes(void *buffer, size_t len)
{
    return len > INT32_MAX ? FLOTILLA_TOO_LARGE : __flotilla_random_bytes(buffer, (int32_t)len);
}

/* Sleeps ms milliseconds. Journaled as the absolute wake-up time: a replay after it returns at
 * once. A sleep of at least the node's Durable:ParkThresholdMs (default 5 s) parks the job: the
 * guest is stopped, its slot freed, and the job replayed on any node after the wake-up (not an
 * attempt, not counted against the timeout). A shorter sleep waits in place and counts against
 * the job's timeout. FLOTILLA_OK when the time has passed. */
static inline int32_t flotilla_sleep_ms(int64_t ms) { return __flotilla_sleep_ms(ms); }

/* A log line on the job's trace span; not journaled, and not repeated while a retry replays. */
static inline void flotilla_log(int32_t level, const char *message, size_t len)
{
    __flotilla_log(level, message, len > INT32_MAX ? INT32_MAX : (int32_t)len);
}

/* A side effect. op "http": request is JSON {"method", "url", "headers"?: {name: value},
 * "body"?: string}. The host journals an intent before it sends the request and the result
 * after; a replay answers from the journal and never sends it again. Every request carries
 * "Idempotency-Key: <job_id>:<seq>". Returns the response's length (read it with
 * flotilla_response_read): JSON {"status": int, "headers": {...}, "body": string}; or
 * FLOTILLA_BAD_ARGUMENT, FLOTILLA_TOO_LARGE (request or response over 1 MiB),
 * FLOTILLA_INTERRUPTED, FLOTILLA_DENIED. */
static inline int64_t flotilla_call(const char *op, const void *request, size_t len, int32_t flags)
{
    if (len > INT32_MAX) {
        return FLOTILLA_TOO_LARGE;
    }
    return __flotilla_call(op, (int32_t)strlen(op), (const char *)request, (int32_t)len, flags);
}

/* Copies the last response (or its first cap bytes) to buffer; returns the bytes copied. */
static inline int32_t flotilla_response_read(void *buffer, size_t cap)
{
    return __flotilla_response_read(buffer, cap > INT32_MAX ? INT32_MAX : (int32_t)cap);
}

/* Appends text to out as the inside of a JSON string; returns the new end. out needs room for
 * 6 bytes per input byte. */
static inline char *flotilla_json_escape(char *out, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '"' || c == '\\') {
            *out++ = '\\';
            *out++ = (char)c;
        } else if (c < 0x20) {
            *out++ = '\\'; *out++ = 'u'; *out++ = '0'; *out++ = '0';
            *out++ = hex[c >> 4]; *out++ = hex[c & 15];
        } else {
            *out++ = (char)c;
        }
    }
    return out;
}

/* An http call: method ("GET", "POST", ...), url, headers as a JSON object text or NULL (e.g.
 * "{\"content-type\": \"application/json\"}"), body or NULL, flags (FLOTILLA_IDEMPOTENT).
 * Returns what flotilla_call returns. */
static inline int64_t flotilla_http(const char *method, const char *url, const char *headers, const char *body, int32_t flags)
{
    size_t body_len = body ? strlen(body) : 0;
    size_t cap = 64 + strlen(method) + 6 * strlen(url) + (headers ? strlen(headers) : 0) + 6 * body_len;
    char *request = (char *)malloc(cap);
    if (!request) {
        return FLOTILLA_TOO_LARGE;
    }
    char *p = request;
    p = flotilla_json_escape(stpcpy(p, "{\"method\":\""), method, strlen(method));
    p = flotilla_json_escape(stpcpy(p, "\",\"url\":\""), url, strlen(url));
    p = stpcpy(p, "\"");
    if (headers) {
        p = stpcpy(stpcpy(p, ",\"headers\":"), headers);
    }
    if (body) {
        p = stpcpy(flotilla_json_escape(stpcpy(p, ",\"body\":\""), body, body_len), "\"");
    }
    p = stpcpy(p, "}");
    int64_t result = flotilla_call("http", request, (size_t)(p - request), flags);
    free(request);
    return result;
}

/* The "status" of an http response JSON (as read by flotilla_response_read, NUL-terminated); -1 if absent. */
static inline int flotilla_http_status(const char *response)
{
    const char *status = strstr(response, "\"status\":");
    return status ? atoi(status + 9) : -1;
}

#endif /* FLOTILLA_H */
