#include <stdio.h>

#include <emscripten/emscripten.h>

/* Callable from the page's JavaScript: Module.ccall("square", "number", ["number"], [7]). */
EMSCRIPTEN_KEEPALIVE int square(int n) { return n * n; }

int main(void) {
    printf("hello from the web page\n");
    printf("7 squared is %d\n", square(7));
    return 0;
}
