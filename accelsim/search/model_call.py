"""The heuristic search kernel calls the model (counting/nest_kernel.evaluate_nest) through the
address of its compiled code, not as a Numba call that links it in.

Why: a kernel that calls evaluate_nest as a jitted function gets the whole model linked into its
module, optimized and made into machine code once more, and can only compile after evaluate_nest
has. Called at an address, the heuristic search kernel compiles in 5.1–5.4 s of CPU on its own
instead of 7.1 s after the counting kernel, which brings the first search after an install under
20 s (docs/dse.md, session 19). The price: each evaluation the memo (search/memo.py) does not answer
is a real call passing the records' fields: ≈ 3 % on the warm ResNet-50 search, where the memo
saves ≈ 7 %.

`model_at(address, nest, problem, out, scratch)` makes Numba's native call (its calling
convention: a return slot, an exception slot, then each record's fields) on the function at
`address`; model_address gives that address for the records a search passes, compiling
evaluate_nest for their types or loading it from Numba's cache. The types must be the ones the
kernel passes (a call at an address is not checked): model_address builds the Nest from the same
loop arrays and keep bits, and the search tests compare the answers with the Python reference.
With NUMBA_DISABLE_JIT the kernels run as Python and model_at calls evaluate_nest itself. The
exhaustive kernel links the model in (model_linked): it is not among the kernels a first search
compiles ahead, and its evaluations are cheap enough for the call's cost to show.
"""
from __future__ import annotations

from numba import typeof, types
from numba.core import cgutils, config
from numba.extending import intrinsic

from ..counting.nest_kernel import evaluate_nest
from ..counting.records import Nest
from ..errors import AccelsimBug
from ..jit import helper

RESULT = types.Tuple((types.int64, types.float64, types.int64))  # evaluate_nest's (status, energy pJ, cycles)


@intrinsic
def _call_at(typingctx, address, nest, problem, out, scratch):
    argtys = (nest, problem, out, scratch)

    def codegen(context, builder, signature, args):
        call_conv = context.call_conv
        function = builder.inttoptr(args[0], call_conv.get_function_type(RESULT, argtys).as_pointer())
        status, result = call_conv.call_function(builder, function, RESULT, argtys, args[1:])
        with cgutils.if_unlikely(builder, status.is_error):  # (evaluate_nest raises nothing; were it to, as a call)
            call_conv.return_status_propagate(builder, status)
        return result

    return RESULT(types.int64, *argtys), codegen


if config.DISABLE_JIT:  # the kernels run as Python: evaluate_nest itself
    def model_at(address, nest, problem, out, scratch):
        return evaluate_nest(nest, problem, out, scratch)
else:
    @helper(forceinline=True)
    def model_at(address, nest, problem, out, scratch):
        """evaluate_nest's answer, called at `address` (the heuristic kernel's way)."""
        return _call_at(address, nest, problem, out, scratch)


@helper(forceinline=True)
def model_linked(address, nest, problem, out, scratch):
    """evaluate_nest's answer, as a call that links it in (`address` unused): the exhaustive kernel's
    way, compiled only when a search is exhaustive, where the call at an address cost a quarter of
    its rate (T05 2.70 → 1.95 M evaluations/s: its evaluations are cheap and none repeats)."""
    return evaluate_nest(nest, problem, out, scratch)


def model_address(loops, keeps, problem, out, scratch) -> int:
    """The address of evaluate_nest compiled for the records a search kernel passes it: a Nest of
    `loops` and `keeps`, the problem's record, `out` and `scratch` (0 without the JIT)."""
    if config.DISABLE_JIT:
        return 0
    signature = tuple(typeof(a) for a in (Nest(*loops, 0, keeps), problem, out, scratch))
    if signature not in evaluate_nest.overloads:
        evaluate_nest.compile(signature)
    compiled = evaluate_nest.overloads[signature]
    if compiled.signature.return_type != RESULT:
        raise AccelsimBug(f"evaluate_nest returns {compiled.signature.return_type}; the search kernels call it "
                          f"as returning {RESULT} (search/model_call.py)")
    address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
    if not address:  # (a kernel calling it would crash, not raise)
        raise AccelsimBug("evaluate_nest's compiled code has no address (search/model_call.py)")
    return address
