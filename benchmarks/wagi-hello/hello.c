/* A WAGI handler in C: the request is in the CGI environment (and the body on stdin), the response
 * is what main() prints: headers, a blank line, the body. GET /?name=Ada answers "Hello, Ada!". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of "name=" in a query string such as "name=Ada&x=1", undecoded, or "world". */
static void name_in(const char *query, char *name, size_t size) {
    snprintf(name, size, "world");
    const char *word = query;
    while (word && *word) {
        if (strncmp(word, "name=", 5) == 0) {
            size_t length = strcspn(word + 5, "&");
            snprintf(name, size, "%.*s", (int)(length < size - 1 ? length : size - 1), word + 5);
            return;
        }
        word = strchr(word, '&');
        if (word) {
            word++;
        }
    }
}

int main(void) {
    char name[64];
    name_in(getenv("QUERY_STRING"), name, sizeof name);
    printf("Content-Type: text/plain\n\nHello, %s!\n", name);
    return 0;
}
