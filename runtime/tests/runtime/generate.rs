//! Generated data sets: the documented function of the seed, and the size check.

use gradc_runtime::data::{normal, uniform};
use gradc_runtime::rng::Rng;

#[test]
fn normal_is_row_major_draws_from_the_seed() {
    let values = normal(&[2, 3], 3).unwrap();
    let mut rng = Rng::seed_from_u64(3);
    assert_eq!(values, (0..6).map(|_| rng.normal_f64()).collect::<Vec<_>>());
    assert_eq!(values[0].to_bits(), 0xbfdd0418b12341df);
    assert_ne!(normal(&[2, 3], 4).unwrap(), values);
}

#[test]
fn uniform_stays_in_range() {
    let values = uniform(&[100, 10], -1.0, 2.0, 0).unwrap();
    assert_eq!(values.len(), 1000);
    assert!(values.iter().all(|&x| (-1.0..2.0).contains(&x)));
    assert_eq!(values, uniform(&[1000], -1.0, 2.0, 0).unwrap());
    assert!(uniform(&[0, 5], 0.0, 1.0, 0).unwrap().is_empty());
}

#[test]
fn huge_shapes_are_errors() {
    let err = normal(&[usize::MAX, 2], 0).unwrap_err();
    assert_eq!(err.shape, [usize::MAX, 2]);
    assert!(uniform(&[1 << 40, 1 << 10], 0.0, 1.0, 0)
        .unwrap_err()
        .to_string()
        .contains("needs more than the limit"));
}
