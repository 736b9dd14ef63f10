// Built-in workflow "sleep": payload {"ms": N} sleeps N ms (WASI poll_oneoff) and then reports
// {"slept_ms": N, "node": "..."}; tests use it to kill a node while a job is running.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(void)
{
    char buf[4096];
    size_t len = fread(buf, 1, sizeof buf - 1, stdin);
    buf[len] = '\0';

    // A tiny scan instead of a JSON parser: the number after "ms" and its colon.
    long ms = 0;
    const char *key = strstr(buf, "\"ms\"");
    if (key) {
        const char *p = key + 4;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (*p == ':') ms = strtol(p + 1, NULL, 10);
    }
    if (ms < 0) ms = 0;

    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);

    const char *node = getenv("FLOTILLA_NODE_ID");
    // Node ids are host names (no quotes or backslashes), so no escaping here.
    printf("{\"slept_ms\": %ld, \"node\": \"%s\"}\n", ms, node ? node : "");
    return 0;
}
