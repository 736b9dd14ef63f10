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
 * function of the payload and of earlier answers.
 *
 * Build: clang --target=wasm32-wasi --sysroot=/usr -O2 -I Sdk/c -Wl,--strip-all -o job.wasm job.c
 */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include <stddef.h>
#include <stdint.h>

#define FLOTILLA_IMPORT(name) __attribute__((import_module("flotilla"), import_name(name)))

/* The raw imports, as the host defines them. */
FLOTILLA_IMPORT("now_ms") int64_t __flotilla_now_ms(void);
FLOTILLA_IMPORT("random_bytes") int32_t __flotilla_random_bytes(void *ptr, int32_t len);
FLOTILLA_IMPORT("sleep_ms") int32_t __flotilla_sleep_ms(int64_t ms);
FLOTILLA_IMPORT("log") void __flotilla_log(int32_t level, const char *ptr, int32_t len);

/* Results of the calls that return an int32_t. */
#define FLOTILLA_OK 0
#define FLOTILLA_BAD_ARGUMENT (-1)
#define FLOTILLA_TOO_LARGE (-2)

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

#endif /* FLOTILLA_H */
