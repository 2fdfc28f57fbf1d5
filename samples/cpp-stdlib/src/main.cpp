#include <algorithm>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

int main() {
    const std::string text = "the quick brown fox jumps over the lazy dog the end";
    std::istringstream stream(text);
    std::vector<std::string> words;
    for (std::string word; stream >> word;) {
        words.push_back(word);
    }

    std::map<std::string, int> counts;
    for (const auto &word : words) {
        ++counts[word];
    }

    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    const auto letters = std::accumulate(
        words.begin(), words.end(), std::size_t{0},
        [](std::size_t sum, const std::string &w) { return sum + w.size(); });

    std::cout << "distinct words: " << words.size() << "\n";
    std::cout << "letters in them: " << letters << "\n";
    std::cout << "most common: the x" << counts["the"] << "\n";
    std::cout << "first: " << words.front() << ", last: " << words.back() << std::endl;
    return 0;
}
