#include <stdio.h>

/* Set by the constructor: shows that _initialize ran before the exports are called. */
static const char *greeting = "not initialised";

__attribute__((constructor)) static void setup(void) { greeting = "hello from a reactor"; }

int add(int a, int b) { return a + b; }

int fib(int n) {
    int a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        int next = a + b;
        a = b;
        b = next;
    }
    return a;
}

void greet(void) {
    puts(greeting);
    fflush(stdout);
}
