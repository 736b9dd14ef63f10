/*
 * A durable sample with side effects: draws a number and notes the time, POSTs them to a URL,
 * sleeps, then POSTs what it learnt to a second URL. Payload:
 *   {"url": "http://…", "then": "http://…"?, "sleep_ms": N?, "idempotent": true?, "cap": N?}
 * The node journals the draw, the time and each call (an intent before sending, the result
 * after). If the node dies during the sleep, the next attempt replays the draw, the time and
 * the first call's response from the journal (the first URL sees one request), sleeps only what
 * is left and makes the second call live. If it dies while a call is in flight, the replay
 * answers that call with -3 (interrupted), or with "idempotent": true sends it again under the
 * same Idempotency-Key. "cap": N reads only the first N bytes of the first response ("head").
 * The hosts must be in the cluster's Durable:HttpAllow, else the calls answer -4.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla.h"

/* The string value of "name" in a flat JSON object (no escapes), or 0 if absent. */
static int field(const char *json, const char *name, char *out, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *at = strstr(json, key);
    if (!at || !(at = strchr(at + strlen(key), '"'))) {
        return 0;
    }
    const char *end = strchr(++at, '"');
    if (!end || (size_t)(end - at) >= cap) {
        return 0;
    }
    memcpy(out, at, (size_t)(end - at));
    out[end - at] = '\0';
    return 1;
}

static long long number(const char *json, const char *name, long long otherwise)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\"", name);
    const char *at = strstr(json, key);
    return at && (at = strchr(at, ':')) ? atoll(at + 1) : otherwise;
}

static char response[1 << 20];

/* One POST; its status (or the error code when negative) in *status. */
static int64_t post(const char *url, const char *body, int32_t flags, int *status)
{
    int64_t result = flotilla_http("POST", url, "{\"content-type\": \"application/json\"}", body, flags);
    *status = (int)result;
    if (result >= 0) {
        int32_t n = flotilla_response_read(response, sizeof response - 1);
        response[n] = '\0';
        *status = flotilla_http_status(response);
    }
    return result;
}

int main(void)
{
    static char payload[8192];
    size_t n = fread(payload, 1, sizeof payload - 1, stdin);
    payload[n] = '\0';

    char url[2048], then[2048];
    if (!field(payload, "url", url, sizeof url)) {
        fputs("payload needs a \"url\"\n", stderr);
        return 2;
    }
    int has_then = field(payload, "then", then, sizeof then);
    int32_t flags = strstr(payload, "\"idempotent\": true") || strstr(payload, "\"idempotent\":true") ? FLOTILLA_IDEMPOTENT : 0;
    long long cap = number(payload, "cap", -1);

    uint8_t lucky[8];
    flotilla_random_bytes(lucky, sizeof lucky);
    char hex[sizeof lucky * 2 + 1];
    for (size_t i = 0; i < sizeof lucky; i++) {
        snprintf(hex + 2 * i, 3, "%02x", lucky[i]);
    }
    int64_t now = flotilla_now_ms();

    char body[256];
    snprintf(body, sizeof body, "{\"lucky\": \"%s\", \"now_ms\": %" PRId64 "}", hex, now);
    int first_status;
    int64_t first = post(url, body, flags, &first_status);

    char head[64 * 6 + 1] = "";
    int32_t head_len = -1;
    if (cap >= 0 && first >= 0) {
        char raw[64];
        head_len = flotilla_response_read(raw, cap < (long long)sizeof raw ? (size_t)cap : sizeof raw);
        *flotilla_json_escape(head, raw, head_len > 0 ? (size_t)head_len : 0) = '\0';
    }

    flotilla_sleep_ms(number(payload, "sleep_ms", 0));

    int64_t second = 0;
    int second_status = 0;
    if (has_then) {
        snprintf(body, sizeof body, "{\"lucky\": \"%s\", \"first\": %" PRId64 "}", hex, first);
        second = post(then, body, flags, &second_status);
    }

    printf("{\"lucky\": \"%s\", \"now_ms\": %" PRId64 ", \"first\": %" PRId64 ", \"first_status\": %d, "
           "\"read\": %d, \"head\": \"%s\", \"second\": %" PRId64 ", \"second_status\": %d}\n",
           hex, now, first, first_status, (int)head_len, head, second, second_status);
    return 0;
}
