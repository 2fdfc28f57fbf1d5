#include <stdio.h>

int main(void) {
    int total = 0;
    for (int i = 1; i <= 10; i++) {
        total += i;
    }
    printf("hello from standalone Emscripten\n");
    printf("1 + 2 + ... + 10 = %d\n", total);
    return 0;
}
