//! Embedding gradc in a Rust program: load `linear.gd` (its data set comes from `linear.csv`
//! beside it), take the gradient of its loss with respect to its params, and train them with
//! plain SGD written in Rust; then ask a derived function for a Jacobian.
//!
//!     cargo run --release --example embed

use gradc::compiler::check::types::Elem;
use gradc::runtime::tensor::{Buffer, Tensor};
use gradc::{tensor, Program};

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run() -> gradc::Result<()> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/linear.gd");
    let program = Program::from_file(path)?;
    for (name, ty) in program.params() {
        println!("param {name}: {ty}");
    }

    // The data set, split into the loss's two arguments on the Rust side.
    let pts = program.data("pts")?;
    let rows = pts.shape()[0];
    let values = pts.to_f64_vec();
    let column = |c: usize| Tensor::new(vec![rows], Buffer::F64((0..rows).map(|r| values[r * 2 + c]).collect())).unwrap();
    let (x, y) = (column(0), column(1));

    // `loss` is generic over the batch size: instantiate it at the data's length, then
    // compile its value and parameter gradient once.
    let loss = program.function_at("loss", &[tensor(Elem::F64, &[rows]), tensor(Elem::F64, &[rows])])?;
    println!("loss: {}", loss.signature());
    let step = loss.value_and_param_grad()?;
    println!("gradient with respect to {:?}", step.wrt_params());

    let lr = 0.1;
    for i in 0..=200 {
        let out = step.call(&[x.clone(), y.clone()])?;
        if i % 50 == 0 {
            println!("step {i:3}: loss {:.6}", out[0].to_f64_vec()[0]);
        }
        // Outputs: the loss, then one gradient per param in `wrt_params` order.
        for (name, grad) in step.wrt_params().iter().zip(&out[1..]) {
            let value = program.param(name)?.to_f64_vec()[0] - lr * grad.to_f64_vec()[0];
            program.set_param(name, Tensor::scalar_f64(value))?;
        }
    }
    let (w, b) = (program.param("w")?.to_f64_vec()[0], program.param("b")?.to_f64_vec()[0]);
    println!("fitted y = {w:.3} x {b:+.3} (the data: y = 3x - 1 plus noise)");

    // A derived function in Rust: the Jacobian of the (generic) model at two points' batch.
    let model = program.function_at("model", &[tensor(Elem::F64, &[2])])?;
    let jac = model.jacobian()?.compile()?;
    let j = jac.call(&[Tensor::new(vec![2], Buffer::F64(vec![1.0, 2.0])).unwrap()])?;
    println!("jacobian(model) at [1, 2]: {:?} (w on the diagonal)", j[0].to_f64_vec());
    Ok(())
}
