#ifndef WORDS_H
#define WORDS_H
#include <stddef.h>

/* Sorts the words in place, alphabetically. */
void sort_words(const char **words, size_t count);

#endif
