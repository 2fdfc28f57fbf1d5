#include <stdio.h>
#include <string.h>

#include "words.h"

int main(void) {
    const char *words[] = {"wasm", "forge", "builds", "reproducibly"};
    size_t count = sizeof words / sizeof *words;
    char line[128];

    printf("%s\n", GREETING);
    sort_words(words, count);
    for (size_t i = 0; i < count; i++) {
        snprintf(line, sizeof line, "%zu: %s (%zu letters)", i + 1, words[i], strlen(words[i]));
        puts(line);
    }
    return 0;
}
