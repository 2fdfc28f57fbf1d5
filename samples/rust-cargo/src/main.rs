use std::collections::BTreeMap;

fn main() {
    let mut buffer = itoa::Buffer::new();
    let squares: Vec<String> = (1..=5u64).map(|n| buffer.format(n * n).to_owned()).collect();
    println!("hello from Rust");
    println!("squares: {}", squares.join(" "));

    let mut lengths = BTreeMap::new();
    for word in ["wasm", "cargo", "itoa", "rust"] {
        lengths.insert(word, word.len());
    }
    for (word, length) in &lengths {
        println!("{word}: {}", itoa::Buffer::new().format(*length));
    }
}
