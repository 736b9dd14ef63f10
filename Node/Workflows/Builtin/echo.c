// Built-in workflow "echo": returns the payload together with who ran it.
// Output: {"payload": <stdin as-is>, "node": "<FLOTILLA_NODE_ID>", "job_id": "<FLOTILLA_JOB_ID>", "attempt": N}
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Writes s as a JSON string literal; env values are host-controlled but may hold any character.
static void put_json_string(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            putchar('\\');
            putchar(c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

int main(void)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    if (!buf) return 2;
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(buf, cap);
            if (!bigger) return 2;
            buf = bigger;
        }
    }
    // Trailing whitespace is not part of the JSON value; an empty payload echoes as null.
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t')) len--;

    const char *attempt = getenv("FLOTILLA_ATTEMPT");
    fputs("{\"payload\": ", stdout);
    if (len == 0) fputs("null", stdout);
    else fwrite(buf, 1, len, stdout);
    fputs(", \"node\": ", stdout);
    put_json_string(getenv("FLOTILLA_NODE_ID"));
    fputs(", \"job_id\": ", stdout);
    put_json_string(getenv("FLOTILLA_JOB_ID"));
    printf(", \"attempt\": %d}\n", attempt ? atoi(attempt) : 0);
    return 0;
}
