#include <stdlib.h>
#include <string.h>

#include "words.h"

static int compare(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void sort_words(const char **words, size_t count) {
    qsort(words, count, sizeof *words, compare);
}
