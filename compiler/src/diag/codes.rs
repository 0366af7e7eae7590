//! The index of diagnostic codes. Every user error has exactly one code from this table;
//! `docs/errors.md` documents each of them with an example (a test keeps the two in step).

/// A diagnostic code such as `E020`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code(pub &'static str);

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

macro_rules! codes {
    ($($name:ident = $code:literal : $title:literal;)*) => {
        $(#[doc = $title] pub const $name: Code = Code($code);)*
        /// Every code with its one-line title, in order.
        pub const ALL: &[(Code, &str)] = &[$(($name, $title)),*];
    };
}

codes! {
    // Lexical
    UNKNOWN_CHAR = "E001": "a character that starts no token";
    UNTERMINATED_STRING = "E002": "a string literal without its closing quote";
    BAD_ESCAPE = "E003": "an unknown escape sequence in a string";
    UNTERMINATED_COMMENT = "E004": "a block comment without its closing `*/`";
    BAD_NUMBER = "E005": "a malformed or out-of-range number literal";
    DOUBLE_LOGIC_OP = "E006": "`&&` or `||`, which gd spells `&` and `|`";
    INVALID_UTF8 = "E007": "a source file that is not valid UTF-8";
    // Syntax
    UNEXPECTED_TOKEN = "E010": "a token the grammar does not allow here";
    UNEXPECTED_EOF = "E011": "the file ends in the middle of an item";
    CHAINED_COMPARISON = "E012": "comparisons such as `a < b < c` do not chain";
    UNKNOWN_FIELD = "E013": "a field other than `.T`";
    TOO_DEEP = "E014": "delimiters nested more than 256 deep, or an expression more than 1000 deep";
    // Names
    UNKNOWN_NAME = "E020": "a name that is not defined";
    DUPLICATE_NAME = "E021": "a name defined twice in the same scope";
    AMBIGUOUS_NAME = "E022": "a name that two `use`d modules both define";
    UNKNOWN_MODULE = "E023": "a `use` of a module the standard library does not have";
    USE_FILE = "E024": "a `use \"file\"` that cannot be read";
    USE_CYCLE = "E025": "files that `use` each other in a cycle";
    BAD_ASSIGN = "E026": "an assignment to a name that is not a `let mut` variable";
    RECURSION = "E027": "a function that calls itself, directly or through others";
    NOT_CALLABLE = "E028": "a call of something that is not a function";
    BAD_ARGUMENTS = "E029": "missing, extra, repeated or unknown arguments in a call";
    NOT_A_VALUE = "E030": "a function used where a value is expected";
    // Types
    TYPE_MISMATCH = "E031": "a value of another type than the one expected";
    NO_IMPLICIT_CONVERSION = "E032": "mixed element types, which need an explicit conversion";
    UNKNOWN_TYPE = "E033": "a type name that is not `f64`, `f32`, `i64`, `bool` or a generic";
    NOT_BOOL = "E034": "a condition that is not `bool`";
    PATTERN_MISMATCH = "E035": "a tuple pattern that does not fit the value";
    BAD_OPERAND = "E036": "an operator applied to an element type it is not defined on";
    // Shapes
    SHAPE_MISMATCH = "E040": "shapes that do not broadcast or do not match";
    MATMUL_SHAPE = "E041": "a matrix product whose inner dimensions differ";
    BAD_AXIS = "E042": "an axis outside the value's rank";
    RESHAPE_SIZE = "E043": "a reshape that changes the number of elements";
    BAD_INDEX = "E044": "an index with too many subscripts, a constant out of range, or a non-integer index";
    NOT_CONSTANT = "E045": "a value that must be known at compile time but is not";
    GRAPH_TOO_LARGE = "E046": "a loop or shape that would make the program graph too large";
    RAGGED_LITERAL = "E047": "a tensor literal whose rows have different shapes";
    // Generics
    GENERIC_CONFLICT = "E050": "a generic bound to two different shapes or types in one call";
    GENERIC_UNINFERRED = "E051": "a generic that no argument determines";
    GENERIC_KIND = "E052": "a generic used as the wrong kind (shape, float type, rest of shape)";
    // Derivative operators
    GRAD_NOT_SCALAR = "E060": "`grad` of a function whose result is not a scalar float";
    BAD_WRT = "E061": "`wrt` naming an argument that does not exist or is not a float";
    BAD_ORDER = "E062": "a derivative order that is not a non-negative constant";
    RGRAD_NOT_BOOL = "E063": "`rgrad` of a function that is not a `bool` circuit";
    BAD_DERIVATIVE_USE = "E064": "a derivative operator applied to something it cannot differentiate";
    BAD_JVP_RULE = "E065": "a `with jvp` rule with the wrong arguments or result";
    BAD_VMAP = "E066": "a `vmap` whose axis or argument shapes do not fit";
    // Items and statements
    BAD_OPTION = "E070": "an unknown, repeated, missing or ill-typed option of `train` or `bench`";
    BAD_INITIALISER = "E071": "a `param` initialiser that does not fit its type";
    BAD_DATA_SOURCE = "E072": "a `data` declaration that is not `csv`, `npy`, `normal` or `uniform`";
    BAD_STATEMENT = "E073": "a statement used where it is not allowed";
    // Data files (read while checking, for their shapes)
    DATA_FILE = "E080": "a data file that cannot be read";
    DATA_FORMAT = "E081": "a data file with malformed contents";
    DATA_COLUMN = "E082": "a column that the data file does not have";
    // Running (found by `gradc run`, not by `gradc check`)
    INDEX_OUT_OF_RANGE = "E090": "an index outside its axis, found while running";
    DIVISION_BY_ZERO = "E091": "an integer division or remainder by zero";
    ASSERTION_FAILED = "E092": "an `assert` whose condition is false";
    OUT_OF_MEMORY = "E093": "a value larger than the memory a tensor may take";
    SAVE_FAILED = "E094": "a `save` whose file cannot be written";
    LOAD_FAILED = "E095": "a `load` whose file cannot be read or does not match the params";
    NON_FINITE_LOSS = "E096": "a training loss that became NaN or infinite";
    INTERRUPTED = "E097": "a run stopped by Ctrl-C (exit status 130)";
    UNSUPPORTED = "E098": "a construct that this version of gradc checks but cannot run yet";
    INTERNAL = "E099": "an internal error: a bug in gradc";
    REPL_COMMAND = "E100": "a REPL line that is not a command the REPL knows, or a command in the wrong form";
}
