//! A WASI 0.2 command in Rust 2024: collections, formatting and the environment through std.

use std::collections::BTreeMap;

fn main() {
    let text = "the quick brown fox jumps over the lazy dog the end";
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word).or_default() += 1;
    }
    println!("hello from Rust on wasm32-wasip2");
    for (word, count) in counts.iter().filter(|&(_, &count)| count > 1) {
        println!("{word}: {count}");
    }
    let words = text.split_whitespace().count();
    let args = std::env::args().count();
    println!("{words} words, {} distinct, {args} argument(s)", counts.len());
}
