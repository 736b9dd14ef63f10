// Built-in workflow "fail": always a failed attempt, so retries and dead-lettering can be seen.
#include <stdio.h>

int main(void)
{
    fputs("fail: this workflow always fails\n", stderr);
    return 1;
}
