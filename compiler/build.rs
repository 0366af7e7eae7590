//! Generates the parser from the one grammar, `grammar/gd.lalrpop` at the workspace root.

fn main() {
    let grammar_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../grammar");
    println!("cargo:rerun-if-changed={}", grammar_dir.join("gd.lalrpop").display());
    lalrpop::Configuration::new()
        .set_in_dir(&grammar_dir)
        .set_out_dir(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .emit_rerun_directives(true)
        .process()
        .expect("the grammar grammar/gd.lalrpop has errors");
}
