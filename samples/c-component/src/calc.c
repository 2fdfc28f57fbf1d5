/* A reactor built as a WASI 0.2 component: wit/calc.wit names the functions it exports, and any
 * component runtime calls them by those names. Plain C: the world's types (u32) need no bindings. */
#include <stdint.h>
#include <stdio.h>

static const char *banner = "not initialised";

/* Runs at _initialize, which the component's reactor adapter calls before any export. */
__attribute__((constructor)) static void setup(void) { banner = "calc component ready"; }

uint32_t gcd(uint32_t a, uint32_t b) {
    while (b != 0) {
        uint32_t rest = a % b;
        a = b;
        b = rest;
    }
    return a;
}

/* How many steps the Collatz sequence from n takes to reach 1. */
uint32_t steps(uint32_t n) {
    uint32_t count = 0;
    while (n > 1) {
        n = (n % 2 == 0) ? n / 2 : 3 * n + 1;
        count++;
    }
    return count;
}

void hello(void) {
    puts(banner);
    fflush(stdout);
}
