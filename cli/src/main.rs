mod batch_file;
mod demo;

fn main() {}
