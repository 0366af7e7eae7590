// pde — residuals of partial differential equations, for physics-informed training
// (LANGUAGE.md §9). Bring it in with `use pde;`; every name is also reachable as `pde::name`.
//
// What is expressible, and the pattern to use
// gd has no function-typed parameters: a module function cannot take the solution `u` and
// apply `laplacian` to it. So the residuals here take the VALUES of the derivatives, which
// the program computes with the derivative operators at its own `u`; the module fixes the
// equations and their signs, the program fixes the network and the points:
//
//     use pde;
//     param w: f64[2, 32] = glorot();  …
//     fn u(x: f64[2]) -> f64 { … }                            // the solution, one point
//     fn f(x: f64[2]) -> f64 { … }                            // the source term
//     fn r(x: f64[2]) -> f64 { poisson_residual(laplacian(u)(x), f(x)) }
//     fn pinn[B](xs: f64[B, 2]) -> f64 { residual_loss(vmap(r)(xs)) }
//     train pinn(uniform([256, 2], 0, 1)) { optimizer = adam(lr = 1e-3), steps = 2000 }
//
// For a time-dependent `u(x, t)`, take the Laplacian in x through a lambda that closes over
// t, and the time derivative with `grad(…, wrt = 1)`:
//     fn u(x: f64[2], t: f64) -> f64 { … }
//     fn r(x: f64[2], t: f64) -> f64 {
//         heat_residual(grad(u, wrt = 1)(x, t), laplacian(|y: f64[2]| u(y, t))(x), alpha = 0.1)
//     }
// (see tests/fixtures/check/ok/stdlib_pde.gd). In high dimension use the stochastic
// Laplacian, `laplacian(u, samples = 16)`: unbiased, and far cheaper than the exact one.
// On a grid, with no network, `fd_laplacian_1d` / `fd_laplacian_2d` give the finite-difference
// Laplacian instead.
//
// Conventions: the residuals are elementwise and generic over the float type `F` and shape
// `..S`, so they take one point's scalars or a whole batch from `vmap`. Every residual is 0
// exactly where the equation holds; coefficients are compile-time options with defaults.
// Names do not clash with `nn`, `loss`, `sort`, `circuits` or the built-ins.

// ---------------------------------------------------------------------------------------------
// Residuals

// Poisson equation `-Δu = f`: residual `Δu + f`. `lap_u` is `laplacian(u)(x)`.
fn poisson_residual[F: float, ..S](lap_u: F[..S], f: F[..S]) -> F[..S] {
    lap_u + f
}

// Laplace equation `Δu = 0`: residual `Δu`.
fn laplace_residual[F: float, ..S](lap_u: F[..S]) -> F[..S] {
    lap_u
}

// Helmholtz equation `Δu + k² u = f`: residual `Δu + k² u - f`.
fn helmholtz_residual[F: float, ..S](lap_u: F[..S], u: F[..S], f: F[..S], k: f64 = 1.0) -> F[..S] {
    lap_u + k ^ 2 * u - f
}

// Heat equation `u_t = alpha Δu`: residual `u_t - alpha Δu`. `u_t` is
// `grad(u, wrt = 1)(x, t)`, `lap_u` the Laplacian in x.
fn heat_residual[F: float, ..S](u_t: F[..S], lap_u: F[..S], alpha: f64 = 1.0) -> F[..S] {
    u_t - alpha * lap_u
}

// Heat equation with a source, `u_t = alpha Δu + f`: residual `u_t - alpha Δu - f`.
fn heat_source_residual[F: float, ..S](u_t: F[..S], lap_u: F[..S], f: F[..S], alpha: f64 = 1.0) -> F[..S] {
    u_t - alpha * lap_u - f
}

// Allen–Cahn equation `u_t = eps² Δu + u - u³` (phase separation; the reaction is
// `-W'(u)` for the double well `W(u) = (u² - 1)² / 4`): residual `u_t - eps² Δu - u + u³`.
fn allen_cahn_residual[F: float, ..S](u_t: F[..S], lap_u: F[..S], u: F[..S], eps: f64 = 0.01) -> F[..S] {
    u_t - eps ^ 2 * lap_u - u + u ^ 3
}

// Steady Allen–Cahn-type equation `eps² Δu + u - u³ = f` (with eps = 1, the high-dimensional
// PINN benchmark `Δu + u - u³ = f`): residual `eps² Δu + u - u³ - f`.
fn allen_cahn_steady_residual[F: float, ..S](lap_u: F[..S], u: F[..S], f: F[..S], eps: f64 = 1.0) -> F[..S] {
    eps ^ 2 * lap_u + u - u ^ 3 - f
}

// Reaction–diffusion `u_t = D Δu + R(u)`, with `reaction` the value R(u) computed by the
// program: residual `u_t - D Δu - reaction`.
fn reaction_diffusion_residual[F: float, ..S](u_t: F[..S], lap_u: F[..S], reaction: F[..S], diffusivity: f64 = 1.0) -> F[..S] {
    u_t - diffusivity * lap_u - reaction
}

// ---------------------------------------------------------------------------------------------
// Losses

// The physics loss: the mean squared residual over the collocation points.
fn residual_loss[F: float, ..S](r: F[..S]) -> F {
    mean(r ^ 2)
}

// A boundary (Dirichlet) or initial-condition loss: the mean squared difference between the
// solution `u` at the boundary points and the prescribed values `g`.
fn dirichlet_loss[F: float, ..S](u: F[..S], g: F[..S]) -> F {
    mean((u - g) ^ 2)
}

// The usual PINN objective: `residual_loss(r) + weight * dirichlet_loss(u_b, g_b)`.
fn pinn_loss[F: float, ..R, ..B](r: F[..R], u_b: F[..B], g_b: F[..B], weight: f64 = 1.0) -> F {
    mean(r ^ 2) + weight * mean((u_b - g_b) ^ 2)
}

// ---------------------------------------------------------------------------------------------
// Finite differences on a grid

// The second-order finite-difference Laplacian of grid values `u` with spacing `h`:
// `(u[i-1] - 2 u[i] + u[i+1]) / h²` inside, 0 at the two boundary points. `u: F[N]`, N ≥ 3.
fn fd_laplacian_1d[F: float, N](u: F[N], h: F) -> F[N] {
    let inner = (u[:N - 2] - 2 * u[1:N - 1] + u[2:]) / h ^ 2;
    concat([zeros([1]), inner, zeros([1])])
}

// The five-point finite-difference Laplacian of grid values `u` with spacing `h` in both
// directions, 0 on the boundary rows and columns. `u: F[H, W]`, H, W ≥ 3.
fn fd_laplacian_2d[F: float, H, W](u: F[H, W], h: F) -> F[H, W] {
    let c = u[1:H - 1, 1:W - 1];
    let inner = (u[:H - 2, 1:W - 1] + u[2:, 1:W - 1] + u[1:H - 1, :W - 2] + u[1:H - 1, 2:] - 4 * c) / h ^ 2;
    let rows = concat([zeros([H - 2, 1]), inner, zeros([H - 2, 1])], axis = 1);
    concat([zeros([1, W]), rows, zeros([1, W])], axis = 0)
}
