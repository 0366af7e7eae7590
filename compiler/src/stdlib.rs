//! The standard library: modules written in gd, built into the binary.

/// The modules, in the order `use` hints list them.
pub const MODULES: &[&str] = &["nn", "loss", "sort", "circuits", "pde"];

/// The source text of a standard-library module.
pub fn module_source(name: &str) -> Option<&'static str> {
    Some(match name {
        "nn" => include_str!("../../stdlib/nn.gd"),
        "loss" => include_str!("../../stdlib/loss.gd"),
        "sort" => include_str!("../../stdlib/sort.gd"),
        "circuits" => include_str!("../../stdlib/circuits.gd"),
        "pde" => include_str!("../../stdlib/pde.gd"),
        _ => return None,
    })
}
