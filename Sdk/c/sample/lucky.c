/*
 * A durable sample: draws a lucky number and notes the time, sleeps briefly, and reports them.
 * The first attempt fails on purpose after drawing (payload {"fail_first": true}); the retry
 * replays the journal, so it reports the same number and time the first attempt drew.
 * Payload {"sleep_ms": N} sleeps N ms instead of 10 (a sleep of 1 s or more first commits the
 * calls made so far, so a node that dies during it leaves them to the next attempt).
 * Payload {"diverge": true} asks for something else on a retry than on the first attempt
 * (a bug a durable workflow must not have): the retry fails with a nondeterminism error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flotilla.h"

int main(void)
{
    char payload[1024];
    size_t n = fread(payload, 1, sizeof payload - 1, stdin);
    payload[n] = '\0';
    const char *attempt_text = getenv("FLOTILLA_ATTEMPT");
    int attempt = attempt_text ? atoi(attempt_text) : 1;

    if (strstr(payload, "\"diverge\": true") || strstr(payload, "\"diverge\":true")) {
        /* Branches on something outside the journal: the attempt number. */
        if (attempt > 1) {
            uint8_t b;
            flotilla_random_bytes(&b, 1);
        } else {
            flotilla_now_ms();
        }
        fputs("diverge: failing the first attempt\n", stderr);
        return 1;
    }

    uint8_t lucky[8];
    if (flotilla_random_bytes(lucky, sizeof lucky) != FLOTILLA_OK) {
        fputs("random_bytes failed\n", stderr);
        return 2;
    }
    int64_t at = flotilla_now_ms();
    time_t wasi_now = time(NULL); /* WASI clock_time_get: journaled too */
    int64_t sleep_ms = 10;
    const char *sleep_field = strstr(payload, "\"sleep_ms\"");
    if (sleep_field && (sleep_field = strchr(sleep_field, ':'))) {
        sleep_ms = atoll(sleep_field + 1);
    }
    flotilla_sleep_ms(sleep_ms);

    char hex[sizeof lucky * 2 + 1];
    for (size_t i = 0; i < sizeof lucky; i++) {
        snprintf(hex + 2 * i, 3, "%02x", lucky[i]);
    }
    char line[128];
    int len = snprintf(line, sizeof line, "drew %s at %" PRId64, hex, at);
    flotilla_log(FLOTILLA_INFO, line, (size_t)len);

    if (attempt == 1 && (strstr(payload, "\"fail_first\": true") || strstr(payload, "\"fail_first\":true"))) {
        fprintf(stderr, "failing attempt 1 after drawing %s\n", hex);
        return 1;
    }

    printf("{\"lucky\": \"%s\", \"now_ms\": %" PRId64 ", \"time\": %lld, \"attempt\": %d}\n", hex, at, (long long)wasi_now, attempt);
    return 0;
}
