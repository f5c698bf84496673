//! Prints the weir/peer ratio table from the last `cargo bench -p weir-bench`.
//!
//! `cargo run -p weir-bench --release --bin ratios`

fn main() {
    let dir = weir_bench::report::criterion_dir();
    println!("criterion results: {}", dir.display());
    print!("{}", weir_bench::report::ratio_table(&dir));
}
