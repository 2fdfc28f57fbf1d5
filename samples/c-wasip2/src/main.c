/* A WASI 0.2 command: stdio, the clock and the environment reach it through wasi:cli and
 * wasi:clocks, via wasi-libc's wasip2 port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Shorter first, then alphabetically: qsort is not stable, so ties need an order of their own. */
static int by_length(const void *a, const void *b) {
    const char *left = *(const char *const *)a, *right = *(const char *const *)b;
    size_t left_length = strlen(left), right_length = strlen(right);
    if (left_length != right_length) {
        return (left_length > right_length) - (left_length < right_length);
    }
    return strcmp(left, right);
}

int main(int argc, char **argv) {
    const char *planets[] = {"Jupiter", "Mars", "Mercury", "Venus", "Earth"};
    size_t count = sizeof planets / sizeof planets[0];
    qsort(planets, count, sizeof planets[0], by_length);
    printf("hello from a WASI 0.2 component (%d argument%s)\n", argc, argc == 1 ? "" : "s");
    for (size_t i = 0; i < count; i++) {
        printf("%zu. %s\n", i + 1, planets[i]);
    }
    struct timespec now;
    int clock_ok = clock_gettime(CLOCK_MONOTONIC, &now) == 0;
    printf("monotonic clock: %s\n", clock_ok ? "yes" : "no");
    printf("GREETING is %s\n", getenv("GREETING") ? "set" : "not set");
    return 0;
}
