//! Reverse derivative ascent (DESIGN.md §3; Wilson and Zanasi 2021): training `bool` params.
//!
//! The loss returns the error bits `dy = y ⊕ f(p, x)`; the objective gives
//! `(dp, _) = R[f](p, x, dy)`, the reverse derivative over Z2 at those bits, and the step flips
//! `p ← p ⊕ dp`. The "loss" it reports is the number of error bits before the flip.
//!
//! `samples = S` (off by default) flips at most `S` of the bits `dp` marks: when more are
//! marked, `S` of them are chosen uniformly without replacement (a partial Fisher–Yates
//! shuffle of the marked positions, params in order and elements row-major, each draw
//! `rng.below(remaining)`). One update may overshoot (ORACLES.md R3: both table entries flip
//! and the prediction stays wrong); flipping fewer bits per step trades speed for that.
//! Nothing is drawn when `samples` is off or no more than `S` bits are marked.

use super::Objective;
use crate::rng::Rng;
use crate::tensor::{Buffer, Tensor};

#[derive(Clone, Debug)]
pub(crate) struct Rda {
    pub samples: Option<usize>,
}

impl Rda {
    pub fn step<O: Objective>(&mut self, params: &mut [Tensor], objective: &mut O, rng: &mut Rng) -> Result<f64, O::Error> {
        let (errors, flips) = objective.errors_and_rgrad(params)?;
        assert_eq!(flips.len(), params.len(), "errors_and_rgrad: one update per param");
        // The marked positions, as (param, element).
        let mut marked: Vec<(usize, usize)> = Vec::new();
        for (i, (f, p)) in flips.iter().zip(params.iter()).enumerate() {
            let Buffer::Bool(bits) = f.data() else { panic!("errors_and_rgrad: a bool update per param") };
            assert_eq!(bits.len(), p.len(), "errors_and_rgrad: the update has its param's length");
            marked.extend(bits.iter().enumerate().filter(|(_, &b)| b).map(|(k, _)| (i, k)));
        }
        if let Some(s) = self.samples {
            if marked.len() > s {
                for j in 0..s {
                    let pick = j + rng.below((marked.len() - j) as u64) as usize;
                    marked.swap(j, pick);
                }
                marked.truncate(s);
            }
        }
        for (i, k) in marked {
            let Buffer::Bool(v) = params[i].data_mut() else { panic!("rda trains bool params") };
            v[k] = !v[k];
        }
        Ok(errors)
    }
}
