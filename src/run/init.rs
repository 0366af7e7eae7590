//! Initial values: params from their initialisers, data sets from their sources.
//!
//! Random initialisers draw from one generator seeded by the run's seed, param by param in
//! declaration order and element by element in row-major order, in `f64` (rounded once for
//! an `f32` param): the same seed gives the same numbers on any machine.

use gradc_compiler::check::data_diagnostic;
use gradc_compiler::check::hir::{DataDecl, DataSource, Init, ParamDecl};
use gradc_compiler::diag::{codes, Diagnostic};
use gradc_compiler::lower::dtype;
use gradc_runtime::data::{self, CsvOptions, NpyValues};
use gradc_runtime::rng::Rng;
use gradc_runtime::tensor::{checked_len, try_vec, AllocError, Buffer, DType, Tensor};

use super::RunResult;

pub fn param(p: &ParamDecl, rng: &mut Rng) -> RunResult<Tensor> {
    let dt = dtype(p.ty.elem);
    let shape = &p.ty.shape;
    let too_large = |e: AllocError| Box::new(Diagnostic::new(codes::OUT_OF_MEMORY, format!("param `{}`: {e}", p.name), p.span, "this param"));
    let n = checked_len(dt, shape).map_err(too_large)?;
    // Fans as docs/language.md defines them: the first and last dimensions.
    let fan_in = shape.first().copied().unwrap_or(1) as f64;
    let fan_out = shape.last().copied().unwrap_or(1) as f64;
    let mut index = 0;
    let mut draw = || -> f64 {
        index += 1;
        match &p.init {
            Init::Fill(v) => *v,
            Init::Literal(vs) => vs[index - 1],
            Init::Normal { mean, std } => mean + std * rng.normal_f64(),
            Init::Uniform { lo, hi } => rng.uniform_range(*lo, *hi),
            Init::Glorot => {
                let limit = (6.0 / (fan_in + fan_out)).sqrt();
                rng.uniform_range(-limit, limit)
            }
            Init::He => (2.0 / fan_in).sqrt() * rng.normal_f64(),
            Init::Bernoulli(prob) => (rng.uniform_f64() < *prob) as u8 as f64,
        }
    };
    let refused = |_| too_large(AllocError { dtype: dt, shape: shape.clone() });
    let data = match dt {
        DType::F64 => Buffer::F64(filled(n, 0.0, |_| draw()).map_err(refused)?),
        DType::F32 => Buffer::F32(filled(n, 0.0f32, |_| draw() as f32).map_err(refused)?),
        DType::I64 => Buffer::I64(filled(n, 0i64, |_| draw() as i64).map_err(refused)?),
        DType::Bool => Buffer::Bool(filled(n, false, |_| draw() != 0.0).map_err(refused)?),
    };
    Ok(Tensor::new(shape.clone(), data).expect("the length is the shape's"))
}

/// `n` values from `value(i)`, in order, allocated fallibly.
fn filled<T: Clone>(n: usize, zero: T, mut value: impl FnMut(usize) -> T) -> Result<Vec<T>, std::collections::TryReserveError> {
    let mut v = try_vec(n, zero)?;
    for (i, x) in v.iter_mut().enumerate() {
        *x = value(i);
    }
    Ok(v)
}

pub fn data(d: &DataDecl) -> RunResult<Tensor> {
    let shape = d.ty.shape.clone();
    let too_large = |e: String| Box::new(Diagnostic::new(codes::OUT_OF_MEMORY, format!("data `{}`: {e}", d.name), d.span, "this data set"));
    let tensor = match &d.source {
        DataSource::Csv { path, header, columns } => {
            let opts = CsvOptions { header: *header, columns: columns.clone(), ..CsvOptions::default() };
            let table = data::read_csv(path, &opts).map_err(|e| Box::new(data_diagnostic(e, d.span)))?;
            Tensor::new(vec![table.rows, table.cols], Buffer::F64(table.values))
        }
        DataSource::Npy { path } => {
            let array = data::read_npy(path).map_err(|e| Box::new(data_diagnostic(e, d.span)))?;
            let buffer = match array.values {
                NpyValues::F64(v) => Buffer::F64(v),
                NpyValues::F32(v) => Buffer::F32(v),
                NpyValues::I64(v) => Buffer::I64(v),
                NpyValues::Bool(v) => Buffer::Bool(v),
            };
            Tensor::new(array.shape, buffer)
        }
        DataSource::Normal { mean, std, seed } => {
            let mut v = data::generate::normal(&shape, *seed).map_err(|e| too_large(e.to_string()))?;
            v.iter_mut().for_each(|x| *x = mean + std * *x);
            Tensor::new(shape.clone(), Buffer::F64(v))
        }
        DataSource::Uniform { lo, hi, seed } => {
            let v = data::generate::uniform(&shape, *lo, *hi, *seed).map_err(|e| too_large(e.to_string()))?;
            Tensor::new(shape.clone(), Buffer::F64(v))
        }
    };
    // The file was read once at check time for its shape; it may have changed since.
    match tensor {
        Some(t) if t.shape() == shape.as_slice() && t.dtype() == dtype(d.ty.elem) => Ok(t),
        _ => Err(Box::new(
            Diagnostic::new(codes::DATA_FORMAT, format!("data `{}` changed while gradc ran: it is no longer {}", d.name, d.ty), d.span, "this data set")
                .with_hint("run again"),
        )),
    }
}
