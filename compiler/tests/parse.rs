//! Parser tests: precedence, every form of the language, the programs of LANGUAGE.md and the
//! benchmarks (the workspace's check fixtures, shared rather than copied), syntax errors with
//! their codes and spans,
//! recovery, and robustness against deep or huge inputs.

/// LANGUAGE.md §1, which is also examples/linear.gd.
const LINEAR: &str = include_str!("../../examples/linear.gd");
const P2_MLP: &str = include_str!("../../tests/fixtures/check/ok/bench_p2_mlp.gd");

use gradc_compiler::diag::Diagnostic;
use gradc_compiler::source::FileId;
use gradc_compiler::syntax::ast::*;
use gradc_compiler::syntax::parser::{parse, parse_expr};

const F: FileId = FileId(0);

// ----- helpers -----

/// An S-expression of an expression, to check its shape.
fn sx(e: &Expr) -> String {
    let list = |es: &[Expr]| es.iter().map(sx).collect::<Vec<_>>().join(" ");
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(x) => format!("{x:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Name(p) => p.segments.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join("::"),
        ExprKind::Unary(UnOp::Neg, x) => format!("(neg {})", sx(x)),
        ExprKind::Unary(UnOp::Not, x) => format!("(not {})", sx(x)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
        ExprKind::Call { callee, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}={}", n.name, sx(&a.value)),
                    None => sx(&a.value),
                })
                .collect();
            format!("(call {} {})", sx(callee), args.join(" "))
        }
        ExprKind::Index { base, subscripts } => {
            let subs: Vec<String> = subscripts
                .iter()
                .map(|s| match s {
                    Subscript::Index(e) => sx(e),
                    Subscript::Slice { lo, hi, .. } => {
                        format!("{}:{}", lo.as_ref().map_or(String::new(), sx), hi.as_ref().map_or(String::new(), sx))
                    }
                })
                .collect();
            format!("(index {} {})", sx(base), subs.join(" "))
        }
        ExprKind::Transpose(x) => format!("(T {})", sx(x)),
        ExprKind::Tuple(es) => format!("(tuple {})", list(es)),
        ExprKind::Paren(x) => format!("(paren {})", sx(x)),
        ExprKind::TensorLit(es) => format!("[{}]", list(es)),
        ExprKind::If { cond, then, otherwise } => format!("(if {} {} {})", sx(cond), sb(then), sx(otherwise)),
        ExprKind::Block(b) => sb(b),
        ExprKind::Lambda { params, body } => {
            let ps: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
            format!("(lambda [{}] {})", ps.join(" "), sx(body))
        }
        ExprKind::Error => "ERROR".into(),
    }
}

fn sb(b: &Block) -> String {
    let mut parts: Vec<String> = b.stmts.iter().map(|s| match &s.kind {
        StmtKind::Let { mutable, value, .. } => format!("(let{} {})", if *mutable { " mut" } else { "" }, sx(value)),
        StmtKind::Assign { name, value } => format!("(set {} {})", name.name, sx(value)),
        StmtKind::For { var, lo, hi, body } => format!("(for {} {} {} {})", var.name, sx(lo), sx(hi), sb(body)),
    }).collect();
    if let Some(v) = &b.value {
        parts.push(sx(v));
    }
    format!("{{{}}}", parts.join(" "))
}

fn expr(src: &str) -> String {
    let (e, d) = parse_expr(F, src);
    assert!(d.is_empty(), "{src}: {d:#?}");
    sx(&e.expect("an expression"))
}

fn ok(src: &str) -> Module {
    let (m, d) = parse(F, src);
    assert!(d.is_empty(), "unexpected diagnostics:\n{}", render(&d, src));
    m
}

fn errors(src: &str) -> Vec<Diagnostic> {
    let (_, d) = parse(F, src);
    assert!(!d.is_empty(), "expected errors in {src:?}");
    d
}

fn render(d: &[Diagnostic], src: &str) -> String {
    let mut sm = gradc_compiler::source::SourceMap::new();
    sm.add("test.gd", None, src.to_string());
    d.iter().map(|d| d.render_plain(&sm)).collect::<Vec<_>>().join("\n")
}

/// The one diagnostic of `src`: its code, and the text its primary label covers.
fn one_error(src: &str) -> (Diagnostic, &str) {
    let d = errors(src);
    assert_eq!(d.len(), 1, "expected one diagnostic:\n{}", render(&d, src));
    let d = d.into_iter().next().unwrap();
    let text = &src[d.span().range()];
    (d, text)
}

fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
    d.iter().map(|d| d.code.0).collect()
}

// ----- precedence and shapes -----

#[test]
fn power_binds_tighter_than_unary_and_takes_a_unary_right_operand() {
    assert_eq!(expr("-x^2"), "(neg (^ x 2))");
    assert_eq!(expr("2^-1"), "(^ 2 (neg 1))");
    assert_eq!(expr("a^b^c"), "(^ a (^ b c))");
    assert_eq!(expr("-a^-b^c"), "(neg (^ a (neg (^ b c))))");
    assert_eq!(expr("x.T^2"), "(^ (T x) 2)");
}

#[test]
fn binary_precedence_follows_the_spec() {
    assert_eq!(expr("a | b & c == d + e * f"), "(| a (& b (== c (+ d (* e f)))))");
    assert_eq!(expr("a * b + c < d & e | f"), "(| (& (< (+ (* a b) c) d) e) f)");
    assert_eq!(expr("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr("a / b @ c % d"), "(% (@ (/ a b) c) d)");
    assert_eq!(expr("-a * !b"), "(* (neg a) (not b))");
    assert_eq!(expr("!a & b"), "(& (not a) b)");
    assert_eq!(expr("(a < b) == c"), "(== (paren (< a b)) c)");
}

#[test]
fn lambdas_are_lowest_and_extend_as_far_as_possible() {
    assert_eq!(expr("|x| x + 1"), "(lambda [x] (+ x 1))");
    assert_eq!(expr("|x| a | b"), "(lambda [x] (| a b))");
    assert_eq!(expr("(|x| x * x)(2)"), "(call (paren (lambda [x] (* x x))) 2)");
    assert_eq!(expr("|x: f64[3], y: f64| x * y"), "(lambda [x y] (* x y))");
    assert_eq!(expr("|t| |u| t * u"), "(lambda [t] (lambda [u] (* t u)))");
    assert_eq!(expr("grad(|x| taylor(g, order = 3)(x, x)[3])"), "(call grad (lambda [x] (index (call (call taylor g order=3) x x) 3)))");
}

#[test]
fn postfix_forms() {
    assert_eq!(expr("f(x)(y)[1].T"), "(T (index (call (call f x) y) 1))");
    assert_eq!(expr("x[i, 1:, :3, a:b, :]"), "(index x i 1: :3 a:b :)");
    assert_eq!(expr("sum(x, axis = 0,)"), "(call sum x axis=0)");
    assert_eq!(expr("nn::dense(x)"), "(call nn::dense x)");
    assert_eq!(expr("f64(N)"), "(call f64 N)");
    assert_eq!(expr("-x.T"), "(neg (T x))");
}

#[test]
fn primaries() {
    assert_eq!(expr("[[1, 2], [3, 4],]"), "[[1 2] [3 4]]");
    assert_eq!(expr("(a, (b, c),)"), "(tuple a (tuple b c))");
    assert_eq!(expr("(a,)"), "(tuple a)");
    assert_eq!(expr("(a)"), "(paren a)");
    assert_eq!(expr("csv(\"f.csv\", header = true)"), "(call csv \"f.csv\" header=true)");
    assert_eq!(expr("1.5e3 + 2"), "(+ 1500.0 2)");
    assert_eq!(expr("if a { b } else if c { d } else { e }"), "(if a {b} (if c {d} {e}))");
    assert_eq!(
        expr("{ let a = 1; let mut s = 0.0; for i in 0..N { s = s + x[i]; } s }"),
        "{(let 1) (let mut 0.0) (for i 0 N {(set s (+ s (index x i)))}) s}"
    );
}

#[test]
fn spans_cover_the_source() {
    let src = "print  a + f(b)[1] ;";
    let m = ok(src);
    let ItemKind::Print(es) = &m.items[0].kind else { panic!() };
    assert_eq!(&src[es[0].span.range()], "a + f(b)[1]");
    assert_eq!(&src[m.items[0].span.range()], src);
    let ExprKind::Binary(_, _, rhs) = &es[0].kind else { panic!() };
    let ExprKind::Index { base, .. } = &rhs.kind else { panic!() };
    assert_eq!(&src[base.span.range()], "f(b)");

    // Folded chains: each node spans from its own start to the end of the chain.
    let src = "-a ^ !b ^ c";
    let (e, _) = parse_expr(F, src);
    let e = e.unwrap();
    assert_eq!(&src[e.span.range()], src);
    let ExprKind::Unary(_, pow) = &e.kind else { panic!() };
    assert_eq!(&src[pow.span.range()], "a ^ !b ^ c");
    let ExprKind::Binary(_, _, not) = &pow.kind else { panic!() };
    assert_eq!(&src[not.span.range()], "!b ^ c");
    let src = "if a { 1 } else if b { 2 } else { 3 }";
    let (e, _) = parse_expr(F, src);
    let ExprKind::If { otherwise, .. } = &e.unwrap().kind else { panic!() };
    assert_eq!(&src[otherwise.span.range()], "if b { 2 } else { 3 }");
    let src = "|x| |y| x + y";
    let (e, _) = parse_expr(F, src);
    let ExprKind::Lambda { body, .. } = &e.unwrap().kind else { panic!() };
    assert_eq!(&src[body.span.range()], "|y| x + y");
}

// ----- items -----

#[test]
fn every_item_form() {
    let m = ok(include_str!("fixtures/parse/all_syntax.gd"));
    let kinds: Vec<&str> = m
        .items
        .iter()
        .map(|i| match &i.kind {
            ItemKind::UseModule(_) => "use",
            ItemKind::UseFile(..) => "use-file",
            ItemKind::Const { .. } => "const",
            ItemKind::Param { .. } => "param",
            ItemKind::Data { .. } => "data",
            ItemKind::Fn(_) => "fn",
            ItemKind::DerivedFn { .. } => "derived",
            ItemKind::Train { .. } => "train",
            ItemKind::Print(_) => "print",
            ItemKind::Assert(_) => "assert",
            ItemKind::Save(..) => "save",
            ItemKind::Load(..) => "load",
            ItemKind::Bench { .. } => "bench",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "use", "use-file", "const", "const", "param", "param", "data", "data", "fn", "fn", "fn", "fn", "fn", "fn",
            "derived", "derived", "train", "train", "print", "print", "assert", "save", "load", "bench", "bench", "bench"
        ]
    );
}

#[test]
fn function_headers() {
    let m = ok("fn softmax[F: float, ..S, N](x: F[..S], axis: i64 = -1) -> (F[..S], f64) { x } with jvp(x, dx) { dx }");
    let ItemKind::Fn(f) = &m.items[0].kind else { panic!() };
    let kinds: Vec<_> = f.generics.iter().map(|g| (g.name.name.as_str(), g.kind.clone())).collect();
    assert_eq!(kinds, [("F", GenericKind::Float), ("S", GenericKind::Rest), ("N", GenericKind::Dim)]);
    assert_eq!(f.params.len(), 2);
    assert_eq!(sx(f.params[1].default.as_ref().unwrap()), "(neg 1)");
    let TypeKind::Tensor { elem, dims: Some(dims) } = &f.params[0].ty.kind else { panic!() };
    assert_eq!(elem.name, "F");
    assert!(matches!(&dims[..], [Dim::Rest(s)] if s.name == "S"));
    assert!(matches!(&f.ret.as_ref().unwrap().kind, TypeKind::Tuple(ts) if ts.len() == 2));
    let rule = f.jvp_rule.as_ref().unwrap();
    assert_eq!(rule.args.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["x", "dx"]);
}

#[test]
fn patterns_and_statements() {
    let m = ok("fn f(x: f64) -> f64 { let (a, (b, c)) = g(x); let t: f64[3] = x; let mut s = 0; s = s + 1; s }");
    let ItemKind::Fn(f) = &m.items[0].kind else { panic!() };
    let StmtKind::Let { pat: Pattern::Tuple(ps, _), .. } = &f.body.stmts[0].kind else { panic!() };
    assert!(matches!(&ps[1], Pattern::Tuple(inner, _) if inner.len() == 2));
    assert!(matches!(&f.body.stmts[1].kind, StmtKind::Let { ty: Some(_), mutable: false, .. }));
    assert!(matches!(&f.body.stmts[2].kind, StmtKind::Let { mutable: true, .. }));
    assert!(matches!(&f.body.stmts[3].kind, StmtKind::Assign { name, .. } if name.name == "s"));
}

#[test]
fn bench_with_and_without_options() {
    let m = ok("bench f(x);\nbench f(x) { iters = 200 }\nprint 1;");
    assert!(matches!(&m.items[0].kind, ItemKind::Bench { options, .. } if options.is_empty()));
    assert!(matches!(&m.items[1].kind, ItemKind::Bench { options, .. } if options.len() == 1));
    assert_eq!(m.items.len(), 3);
}

// ----- whole programs -----

#[test]
fn programs_of_the_spec_and_the_benchmarks_parse_cleanly() {
    let files = [
        ("linear.gd", LINEAR),
        ("language_jvp_rules.gd", include_str!("../../tests/fixtures/check/ok/language_jvp_rules.gd")),
        ("language_train_options.gd", include_str!("../../tests/fixtures/check/ok/language_train_options.gd")),
        ("bench_p1_elementwise.gd", include_str!("../../tests/fixtures/check/ok/bench_p1_elementwise.gd")),
        ("bench_p2_mlp.gd", P2_MLP),
        ("bench_p3_taylor.gd", include_str!("../../tests/fixtures/check/ok/bench_p3_taylor.gd")),
        ("bench_p4_laplacian.gd", include_str!("../../tests/fixtures/check/ok/bench_p4_laplacian.gd")),
        ("bench_p5_compile.gd", include_str!("../../tests/fixtures/check/ok/bench_p5_compile.gd")),
    ];
    for (name, src) in files {
        let (m, d) = parse(F, src);
        assert!(d.is_empty(), "{name}:\n{}", render(&d, src));
        assert!(!m.items.is_empty(), "{name}");
    }
    let m = ok(LINEAR);
    assert_eq!(m.items.len(), 8);
}

#[test]
fn fragments_of_the_spec() {
    for src in [
        "fn relu[F: float, ..S](x: F[..S]) -> F[..S] { max(x, 0) }",
        "print grad(grad(f)), jvp(grad(f)), vmap(hessian(f));",
        "print |x: bool| x & x;",
        "fn f[B, N](x: f64[B, N]) -> f64 { let y = reshape(x, [B, 1, 4]); sum(zeros([N])) + f64(N) }",
        "print taylor(f, order = K)(x, [v1, v2]), laplacian(f, samples = S), rgrad(f, wrt = 1);",
        "train loss(x) { optimizer = sgd(lr = cosine(0.1, 100), momentum = 0.9), epochs = 20, validate = loss(xv, yv) }",
        "data d = csv(\"f.csv\", header = true, columns = [\"a\", \"c\"]);",
    ] {
        ok(src);
    }
}

// ----- errors -----

#[test]
fn e010_names_what_was_expected() {
    let src = "print (1 + );";
    let (d, at) = one_error(src);
    assert_eq!(d.code.0, "E010");
    assert_eq!(at, ")");
    assert_eq!(d.message, "expected an expression, found `)`");

    let src = "print a b;";
    let (d, at) = one_error(src);
    assert_eq!((d.code.0, at), ("E010", "b"));
    assert_eq!(d.message, "expected `,`, `;` or an operator, found `b`");
}

#[test]
fn e011_at_the_end_of_the_file() {
    let src = "fn f(x: f64) -> f64 {\n    x + 1\n";
    let (d, _) = one_error(src);
    assert_eq!(d.code.0, "E011");
    assert_eq!(d.span().range(), 31..31, "at the end of the last token");
    assert_eq!(d.labels[1].span.range(), 20..21, "the unclosed `{{`");
    assert!(d.message.contains("`}`"), "{}", d.message);
}

#[test]
fn e012_chained_comparison() {
    let src = "assert a < b < c;";
    let (d, at) = one_error(src);
    assert_eq!((d.code.0, at), ("E012", "a < b < c"));
    assert!(d.hint.as_deref().unwrap().contains("write `a < b & b < c`"), "{:?}", d.hint);
    ok("assert (a < b) < c;");
}

#[test]
fn e013_unknown_field() {
    let (d, at) = one_error("print x.shape;");
    assert_eq!((d.code.0, at), ("E013", "shape"));
    let (d, at) = one_error("print t.0;");
    assert_eq!((d.code.0, at), ("E013", ".0"));
    assert!(d.hint.unwrap().contains("let (a, b)"));
}

#[test]
fn if_needs_else() {
    let src = "fn f(x: f64) -> f64 { if x > 0 { x } }";
    let (d, at) = one_error(src);
    assert_eq!((d.code.0, at), ("E010", "}"));
    assert_eq!(d.message, "expected `else`, found `}`");
    assert!(d.hint.unwrap().contains("always has an `else`"));
}

#[test]
fn only_names_are_assigned() {
    let src = "fn f(x: f64[3]) -> f64 { let mut y = x; y[0] = 1; y }";
    let (d, at) = one_error(src);
    assert_eq!((d.code.0, at), ("E010", "y[0]"));
    assert!(d.hint.unwrap().contains("only a `let mut` name can be assigned"));
}

#[test]
fn missing_semicolon_after_an_item() {
    let src = "param w: f64 = 0.0\nparam b: f64 = 0.0;";
    let (d, at) = one_error(src);
    assert_eq!((d.code.0, at), ("E010", "param"));
    assert_eq!(&src[d.labels[1].span.range()], "0.0");
    assert!(d.hint.unwrap().contains("`;`"));
    // The item after the error is still parsed.
    let (m, _) = parse(F, src);
    assert_eq!(m.items.len(), 1);
}

#[test]
fn slips_get_hints() {
    let cases = [
        ("print a + |x| x;", "|", "parentheses"),
        ("fn f() -> f64 { 1 };", ";", "no `;` follows a block"),
        ("fn f() -> f64 { g(1); 2 }", ";", "no expression statements"),
        ("assert a = b;", "=", "`==`"),
        ("fn data() -> f64 { 1 }", "data", "keyword"),
        ("let x = 1;", "let", "inside a block"),
        ("save params;", "params", "strings"),
        ("fn f() -> f64 { let a = 1; }", "}", "without `;`"),
        ("fn f() { for i in 0..3 { i } 1 }", "i", "statements only"),
        ("fn f[F: int](x: F) -> F { x }", "int", "float"),
        ("fn f(x: f64) -> f64 { x } with grad(x, dx) { dx }", "grad", "with jvp"),
        ("train loss(x);", ";", "option block"),
        ("fn f(x) { x }", ")", "`x: f64`"),
    ];
    for (src, at, hint) in cases {
        let (d, text) = one_error(src);
        assert_eq!(text, at, "{src}");
        let h = d.hint.clone().unwrap_or_default();
        assert!(h.contains(hint), "{src}: hint {h:?} lacks {hint:?}");
    }
}

#[test]
fn recovery_reports_several_errors_and_keeps_good_items() {
    let src = "param w: f64 = ;\nfn f(x: f64) -> f64 { x + }\nprint w;\nconst = 3;\nprint 1;\n";
    let (m, d) = parse(F, src);
    assert_eq!(codes(&d), ["E010", "E010", "E010"], "{}", render(&d, src));
    let at: Vec<&str> = d.iter().map(|d| &src[d.span().range()]).collect();
    assert_eq!(at, [";", "}", "="]);
    // `fn f` survives with an error in its body; both prints survive.
    let kinds: Vec<bool> = m.items.iter().map(|i| matches!(i.kind, ItemKind::Print(_))).collect();
    assert_eq!(kinds, [false, true, true]);
}

#[test]
fn recovery_inside_blocks_options_and_arguments() {
    let src = "fn f(x: f64) -> f64 {\n let a = ;\n let b = 2 * ;\n a + b\n}\ntrain loss(x) { steps = , batch = 2 }\nprint g(1, +, 3);\n";
    let (m, d) = parse(F, src);
    assert_eq!(d.len(), 4, "{}", render(&d, src));
    assert!(d.iter().all(|d| d.code.0 == "E010"));
    assert_eq!(m.items.len(), 3);
    let ItemKind::Fn(f) = &m.items[0].kind else { panic!() };
    assert_eq!(sx(f.body.value.as_ref().unwrap()), "(+ a b)");
    let ItemKind::Train { options, .. } = &m.items[1].kind else { panic!() };
    assert_eq!(options.len(), 1);
    let ItemKind::Print(es) = &m.items[2].kind else { panic!() };
    assert_eq!(sx(&es[0]), "(call g 1 ERROR 3)");
}

#[test]
fn no_compare_hint_in_a_pattern() {
    let (d, at) = one_error("fn f(x: f64) -> f64 { let (a, b = x; a }");
    assert_eq!((d.code.0, at), ("E010", "="));
    assert_eq!(d.hint, None);
}

#[test]
fn parse_expr_reports_errors() {
    let (e, d) = parse_expr(F, "1 + ");
    assert!(e.is_none());
    assert_eq!(codes(&d), ["E011"]);
    assert_eq!(d[0].span().range(), 3..3);
    let (e, d) = parse_expr(F, "f(1, +, 2)");
    assert_eq!(sx(&e.unwrap()), "(call f 1 ERROR 2)");
    assert_eq!(codes(&d), ["E010"]);
}

#[test]
fn lexer_and_parser_diagnostics_come_sorted() {
    let src = "print a $ ;\nprint 1 && 2;\nprint (;";
    let d = errors(src);
    let los: Vec<u32> = d.iter().map(|d| d.span().lo).collect();
    let mut sorted = los.clone();
    sorted.sort();
    assert_eq!(los, sorted);
    assert!(codes(&d).contains(&"E001") && codes(&d).contains(&"E006"));
}

// ----- robustness -----

fn nested_parens(n: usize) -> String {
    format!("print {}x{};", "(".repeat(n), ")".repeat(n))
}

#[test]
fn nesting_255_parses() {
    let m = ok(&nested_parens(255));
    assert_eq!(m.items.len(), 1);
    ok(&format!("print {}1{};", "[".repeat(255), "]".repeat(255)));
}

#[test]
fn nesting_5000_is_e014_without_a_crash() {
    let src = format!("print 1;\n{}", nested_parens(5000));
    let (m, d) = parse(F, &src);
    assert_eq!(codes(&d), ["E014"]);
    assert_eq!(d[0].span().lo as usize, "print 1;\n".len() + 6 + 256);
    assert_eq!(m.items.len(), 1, "items before the stop are kept");
    let (_, d) = parse(F, &format!("fn f() -> f64 {}1{}", "{".repeat(300), "}".repeat(300)));
    assert_eq!(codes(&d), ["E014"]);
    // An `if` waits for its `else` on the parser's stack, braces or not.
    let (_, d) = parse(F, &format!("print {}c;", "if ".repeat(5000)));
    assert_eq!(codes(&d), ["E014"]);
    ok(&format!("print {}1{};", "if c { 1 } else { ".repeat(120), " }".repeat(120)));
}

/// Each of these is more than 1000 deep; each gives one E014 and drops its item.
#[test]
fn deep_operator_chains_are_e014() {
    let n = 100_000;
    let cases = [
        ("sum", format!("print {}a;", "a + ".repeat(n))),
        ("neg", format!("print {}x;", "- ".repeat(n))),
        ("not", format!("print {}x;", "!".repeat(n))),
        ("pow", format!("print {}a;", "a ^ ".repeat(n))),
        ("call", format!("print f{};", "(x)".repeat(n))),
        ("transpose", format!("print x{};", ".T".repeat(n))),
        ("lambda", format!("print {}x;", "|x| ".repeat(n))),
        ("else-if", format!("print if a {{ 1 }}{} else {{ 2 }};", " else if a { 1 }".repeat(n / 10))),
        ("index", format!("print x{};", "[0]".repeat(n))),
    ];
    for (name, body) in cases {
        let src = format!("print 1;\n{body}\nprint 2;");
        let (m, d) = parse(F, &src);
        assert_eq!(codes(&d), ["E014"], "{name}");
        assert_eq!(m.items.len(), 2, "{name}: the deep item is dropped, the others kept");
    }
    // Just under the bound is fine.
    ok(&format!("print {}a;", "a + ".repeat(900)));
}

#[test]
fn deep_statements_in_blocks_are_bounded() {
    // Many statements are wide, not deep.
    let body = "let a = 1; ".repeat(20_000);
    ok(&format!("fn f() -> f64 {{ {body} 1 }}"));
}

#[test]
fn garbage_never_panics() {
    let toks = [
        "fn", "(", ")", "[", "]", "{", "}", "|", ",", ";", "=", "x", "1", "+", "-", "^", "if", "else", "let", "for",
        "in", "..", ":", "::", ".", "T", "\"s\"", "train", "bench", "print", "<", "with", "!", "mut", "1.5", "->",
    ];
    // A deterministic pseudo-random walk over the token alphabet.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..300 {
        let mut src = String::new();
        for _ in 0..(state % 60) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            src.push_str(toks[(state % toks.len() as u64) as usize]);
            src.push(' ');
        }
        let _ = parse(F, &src);
        let _ = parse_expr(F, &src);
        state = state.wrapping_add(1);
    }
}

#[test]
fn ten_megabytes_of_garbage_are_quick_and_reported_briefly() {
    for unit in [") fn ; x = { 1 + ] ", "print x.y < 1 < 2; "] {
        let src = unit.repeat(10_000_000 / unit.len());
        let t = std::time::Instant::now();
        let (_, d) = parse(F, &src);
        assert_eq!(d.len(), 100);
        assert!(d[99].hint.as_deref().unwrap_or("").contains("more syntax errors are not shown"));
        eprintln!("took {:?}", t.elapsed());
    }
}

#[test]
fn ten_megabytes_parse_quickly() {
    let unit = P2_MLP;
    let mut src = String::with_capacity(10_500_000);
    let mut i = 0;
    while src.len() < 10_000_000 {
        // Rename so the file is a long program, not the same items again.
        src.push_str(&unit.replace("loss", &format!("loss{i}")).replace("logits", &format!("logits{i}")));
        i += 1;
    }
    let t = std::time::Instant::now();
    let (m, d) = parse(F, &src);
    let took = t.elapsed();
    assert!(d.is_empty());
    assert_eq!(m.items.len(), i * ok(unit).items.len());
    eprintln!("parsed {} bytes, {} items in {took:?}", src.len(), m.items.len());
}

/// Right-associative chains are folded from lists, so a million-token chain neither
/// overflows the parser's stack nor takes quadratic time: it is E014, promptly.
#[test]
fn million_token_chains_are_e014() {
    let n = 1_000_000;
    let t = std::time::Instant::now();
    for body in [
        "-".repeat(n) + "x",
        "a ^ ".repeat(n / 2) + "a",
        "|x| ".repeat(n / 4) + "x",
        "if a { 1 } else ".repeat(n / 10) + "{ 2 }",
        "x".to_string() + &".T".repeat(n / 2),
    ] {
        let (m, d) = parse(F, &format!("print {body};"));
        assert_eq!(codes(&d), ["E014"]);
        assert!(m.items.is_empty());
    }
    eprintln!("took {:?}", t.elapsed());
}
