// circuits — Boolean circuits on `bool` values (LANGUAGE.md §9). Bring it in with
// `use circuits;`; every name is also reachable as `circuits::name`.
//
// Each circuit is written with the gates `&`, `|`, `!` and `xor` only, so that `rgrad` (the
// reverse derivative over Z2, ORACLES.md R1–R3) differentiates it gate by gate, and so that
// reverse derivative ascent (`optimizer = rda(…)`) can train circuits built from them.
// The gate-level circuits are elementwise over any shape `..S` (a scalar `bool` is the empty
// shape), so one call evaluates a whole batch of circuits; `parity_bit` and `ripple_add` take
// bit vectors.
//
// Multi-output circuits (the adders) return a tuple; `rgrad` takes them with a tuple
// cotangent, `rgrad(half_adder)(a, b, (ds, dc))`, or differentiate one output or a combination
// of them through a lambda, e.g. `rgrad(|a: bool, b: bool| { let (s, c) = half_adder(a, b); xor(s, c) })`.
// Bit vectors are little-endian: entry 0 is the least significant bit.
// The built-in reductions `parity`, `all` and `any` (LANGUAGE.md §6) complement this module;
// its names do not clash with them or with `nn`, `loss`, `sort`, `pde`.

// Half adder: `(sum, carry) = (a xor b, a and b)`.
fn half_adder[..S](a: bool[..S], b: bool[..S]) -> (bool[..S], bool[..S]) {
    (xor(a, b), a & b)
}

// Full adder: `(sum, carry)` of `a + b + cin`; two half adders and an OR.
fn full_adder[..S](a: bool[..S], b: bool[..S], cin: bool[..S]) -> (bool[..S], bool[..S]) {
    let p = xor(a, b);
    (xor(p, cin), (a & b) | (p & cin))
}

// 2-to-1 multiplexer: `x0` where `sel` is false, `x1` where it is true.
fn mux[..S](sel: bool[..S], x0: bool[..S], x1: bool[..S]) -> bool[..S] {
    (!sel & x0) | (sel & x1)
}

// 4-to-1 multiplexer: input number `2 s1 + s0` of `x0 … x3`, as a tree of three 2-to-1 ones.
fn mux4[..S](s1: bool[..S], s0: bool[..S], x0: bool[..S], x1: bool[..S], x2: bool[..S], x3: bool[..S]) -> bool[..S] {
    mux(s1, mux(s0, x0, x1), mux(s0, x2, x3))
}

// Majority of three: true where at least two of `a`, `b`, `c` are.
fn majority[..S](a: bool[..S], b: bool[..S], c: bool[..S]) -> bool[..S] {
    (a & b) | (a & c) | (b & c)
}

// Parity of three: `a xor b xor c` (true where an odd number are true). For the parity of a
// whole vector use the built-in reduction `parity(x, axis = k)`.
fn xor3[..S](a: bool[..S], b: bool[..S], c: bool[..S]) -> bool[..S] {
    xor(xor(a, b), c)
}

// The even-parity check bit of each vector along the last axis: true where the vector has
// an odd number of true bits, so that the vector with the bit appended has even parity.
// `x: bool[..S, N]` -> `bool[..S]`.
fn parity_bit[..S, N](x: bool[..S, N]) -> bool[..S] {
    parity(x, axis = -1)
}

// Equality (XNOR) of two bits: `!(a xor b)`.
fn xnor[..S](a: bool[..S], b: bool[..S]) -> bool[..S] {
    !xor(a, b)
}

// Ripple-carry adder of two N-bit little-endian numbers: `(sum bits, carry out)`, built from
// N full adders. `a, b: bool[N]` -> `(bool[N], bool)`.
fn ripple_add[N](a: bool[N], b: bool[N]) -> (bool[N], bool) {
    let mut s = zeros([N], dtype = bool);
    let mut carry = false;
    for i in 0..N {
        let (si, ci) = full_adder(a[i], b[i], carry);
        // Put bit i in place: XOR with a constant mask is linear over Z2, so `rgrad` passes
        // straight through it.
        s = xor(s, bool(one_hot(i, N)) & si);
        carry = ci;
    }
    (s, carry)
}
