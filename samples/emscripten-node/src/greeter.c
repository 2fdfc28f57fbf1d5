#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *copy = strdup("hello from Node");
    size_t length = strlen(copy);
    printf("%s\n", copy);
    printf("%zu characters, allocated with malloc\n", length);
    free(copy);
    return 0;
}
