"""TensorGame: AlphaTensor's single-player game as pure JAX functions over a frozen State.

The state is a residual tensor, padded to S x S x S. A move is a triple (u, v, w) of integer
vectors (an action ``[3, S]``); playing it subtracts u (x) v (x) w from the residual. Each move
costs -1. The game ends when the residual is zero (an algorithm with ``move_count``
multiplications), or after ``max_moves`` moves with an extra reward of minus the residual's rank
upper bound (DESIGN.md, AlphaTensor Methods). Over "Z2" all arithmetic is modulo 2.

Symmetric game (``GameConfig.symmetric``): for a target invariant under the cyclic shift of its
modes (T[i,j,k] = T[j,k,i], as T_{n,n,n} is in DESIGN.md's convention), a move (u, v, w)
subtracts its whole orbit u(x)v(x)w + v(x)w(x)u + w(x)u(x)v and costs 3 multiplications, or, when
u = v = +-w, the single symmetric term u(x)u(x)(+-u) and costs 1. The residual stays symmetric and
a game needs about a third of the moves (Strassen: one symmetric term and two orbits), so only
cyclic-symmetric algorithms are reachable. ``State.rank`` counts multiplications.

Orbit game (``GameConfig.symmetry``): the same with another symmetry g of order 3 of the target,
given as one integer matrix per mode (g(u, v, w) = (M_0 u, M_1 v, M_2 w); ``symmetry_maps``
builds and checks them from matrices P, Q, R of <n,m,p>'s three index spaces). A move
subtracts u(x)v(x)w + g(u(x)v(x)w) + g^2(u(x)v(x)w) (cost 3), or the term alone when g fixes it
(cost 1); its canonical form is the least of the orbit's encodings whose entries lie in the
coefficient set. Example: <2,3,3> has a symmetry of order 3 under which DeepMind's and
Hopcroft-Kerr's rank-15 scheme is five orbits, so five moves instead of fifteen.

Endgame (``GameConfig.endgame`` = E > 0, over Z): after each move, a residual that
``tensorgame.endgame`` decomposes exactly into r <= E terms is finished at once when they fit in
the moves left: the terms are appended to the moves (in the symmetric game one move per orbit),
the move costs r more and the game ends solved. The last moves of a game then need no search
(Jennrich's algorithm finds them when they are unique).

Completion (``GameConfig.completion``): a game that runs out of moves unsolved is finished by the
naive algorithm for what is left, one term per non-zero fibre of the residual along the mode with
the fewest (``fibre_count``; e.g. e_i (x) e_j (x) R[i, j, :]). The end-of-game penalty is then
that count, added to ``State.rank``, and every game is an algorithm: the moves find the hard part
(Strassen's seven inside <2,2,3>), the completion the schoolbook rest. ``terms`` appends them.

Every function is jit- and vmap-able; ``GameConfig`` is static (hashable). Stepping a terminated
state is a no-op with reward 0, so batches of games of different lengths run in one ``lax.scan``.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np

from tensorgame import endgame
from tensorgame.errors import TensorgameError
from tensorgame.factorization import Factorization

# Slice ranks for "Z" are computed modulo this prime (products stay below 2**31 in int32). The
# result equals the rational rank unless the prime divides a minor, which small residuals avoid.
RANK_PRIME = 32749


@dataclasses.dataclass(frozen=True)
class GameConfig:
    """Static rules of a game (hashable, so it can be a static argument of jit)."""

    size: int = 4  # S: every mode of the target is padded to this length
    max_moves: int = 8
    field: str = "Z"  # "Z" (integers) or "Z2" (arithmetic mod 2)
    coefficients: tuple[int, ...] = (-2, -1, 0, 1, 2)  # allowed entries of u, v, w
    history: int = 4  # number of past moves the network sees
    symmetric: bool = False  # cyclic-symmetric game (see the module docstring)
    symmetry: tuple[tuple[int, ...], ...] = ()  # orbit game: 3 maps [S*S] (``symmetry_maps``)
    endgame: int = 0  # > 0: a residual of rank <= endgame is finished by tensorgame.endgame
    completion: bool = False  # out of moves: the residual is finished by its fibres

    def __post_init__(self):
        if self.field not in ("Z", "Z2"):
            raise TensorgameError(f"game field must be Z or Z2, got {self.field!r}")
        if self.size < 1 or self.max_moves < 1 or self.history < 0:
            raise TensorgameError("size and max_moves must be >= 1 and history >= 0")
        coefficients = tuple(sorted(set(int(c) for c in self.coefficients)))
        if self.field == "Z2" and not set(coefficients) <= {0, 1}:
            raise TensorgameError(f"Z2 coefficients must be 0/1, got {coefficients}")
        if not any(c != 0 for c in coefficients):
            raise TensorgameError("the coefficient set needs a non-zero value")
        if self.endgame and self.field != "Z":
            raise TensorgameError("the endgame solver plays over Z only")
        if self.symmetry and (self.symmetric or self.field != "Z"
                              or np.shape(self.symmetry) != (3, self.size * self.size)):
            raise TensorgameError("an orbit game's symmetry needs the plain game over Z and three "
                                  "S x S maps")
        object.__setattr__(self, "symmetry", tuple(tuple(int(x) for x in m)
                                                   for m in self.symmetry))
        object.__setattr__(self, "coefficients", coefficients)

    @property
    def orbits(self) -> bool:
        """Moves are orbits of three terms (the symmetric or an orbit game)."""
        return self.symmetric or bool(self.symmetry)


def symmetry_maps(shape: tuple[int, int, int], p: np.ndarray, q: np.ndarray, r: np.ndarray,
                  size: int) -> tuple[tuple[int, ...], ...]:
    """``GameConfig.symmetry`` for <n,m,p> from integer matrices p [n, n], q [m, m], r [p, p] of
    determinant +-1: A -> P A Q^-1, B -> Q B R^-1, and the third mode's p x n matrix
    W -> R W P^-1, as maps on the factors padded to ``size`` (identity beyond the target); any
    such triple maps T_<n,m,p> to itself. A TensorgameError unless g has order 3 on terms."""
    n, m, k = shape
    matrices = [np.asarray(x, np.int64) for x in (p, q, r)]
    for matrix, side, name in zip(matrices, shape, "PQR"):
        if matrix.shape != (side, side) or round(abs(np.linalg.det(matrix))) != 1:
            raise TensorgameError(f"symmetry matrix {name} must be {side} x {side} with "
                                  f"determinant +-1")
    maps = _padded_maps(matrices, size)
    # Order 3 on terms: each map cubed is +-1 (the signs' product 1), and g is not trivial.
    sides = (n * m, m * k, k * n)

    def scalar(matrix, side):  # s when matrix[:side, :side] = s * identity (s = +-1), else 0
        return next((s for s in (1, -1) if np.array_equal(matrix[:side, :side],
                                                          s * np.eye(side))), 0)

    cubed = [scalar(np.linalg.matrix_power(x, 3), side) for x, side in zip(maps, sides)]
    if np.prod(cubed) != 1 or all(scalar(x, side) for x, side in zip(maps, sides)):
        raise TensorgameError("the symmetry must have order 3 (g^3 = 1 on terms)")
    return tuple(tuple(int(v) for v in x.ravel()) for x in maps)


def _padded_maps(matrices: list[np.ndarray], size: int) -> list[np.ndarray]:
    """The three factor maps [size, size] of unimodular (P, Q, R) (``symmetry_maps``)."""
    p, q, r = matrices
    inverse = [np.rint(np.linalg.inv(x)).astype(np.int64) for x in matrices]
    maps = []
    for block in (np.kron(p, inverse[1].T), np.kron(q, inverse[2].T), np.kron(r, inverse[0].T)):
        full = np.eye(size, dtype=np.int64)
        full[: block.shape[0], : block.shape[1]] = block
        maps.append(full)
    return maps


@chex.dataclass(frozen=True)
class State:
    residual: chex.Array  # [S, S, S] int32: target minus the moves played so far
    dims: chex.Array  # [3] int32: real sizes of the target inside the padding
    moves: chex.Array  # [max_moves, 3, S] int32: moves played, zero rows after move_count
    move_count: chex.Array  # [] int32
    rank: chex.Array  # [] int32: multiplications so far (= move_count unless symmetric; with
    #                   completion, its terms count once the game ran out of moves)
    terminated: chex.Array  # [] bool


def pad_target(tensor: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad a 3-tensor to [size]*3; returns (target [S, S, S] int32, dims [3] int32)."""
    tensor = np.asarray(tensor)
    if tensor.ndim != 3:
        raise TensorgameError(f"a target must be a 3-tensor, got shape {tensor.shape}")
    if max(tensor.shape) > size:
        raise TensorgameError(f"target shape {tensor.shape} does not fit in padding size {size}")
    target = np.zeros((size, size, size), dtype=np.int32)
    target[: tensor.shape[0], : tensor.shape[1], : tensor.shape[2]] = tensor
    return target, np.array(tensor.shape, dtype=np.int32)


def init(target: chex.Array, dims: chex.Array, config: GameConfig) -> State:
    """The start state for ``target`` [S, S, S] (see pad_target) with real sizes ``dims`` [3]."""
    chex.assert_shape(target, (config.size,) * 3)
    chex.assert_shape(dims, (3,))
    residual = _reduce(jnp.asarray(target, jnp.int32), config)
    return State(
        residual=residual,
        dims=jnp.asarray(dims, jnp.int32),
        moves=jnp.zeros((config.max_moves, 3, config.size), jnp.int32),
        move_count=jnp.zeros((), jnp.int32),
        rank=jnp.zeros((), jnp.int32),
        terminated=jnp.all(residual == 0),
    )


def step(state: State, action: chex.Array, config: GameConfig) -> tuple[State, chex.Array,
                                                                          chex.Array]:
    """Play ``action`` [3, S]; returns (next state, reward [] float32, done [] bool).

    The action is canonicalised and its entries outside ``dims`` are zeroed; legality (entries in
    the coefficient set, no zero factor) is the player's job, checked by ``is_legal``.
    """
    played, reward, done, unfinished = _advance(state, action, config)
    penalty = jnp.where(unfinished, end_penalty(played.residual, config), 0)
    return _charged(played, penalty, config), reward - penalty.astype(jnp.float32), done


def step_batch(states: State, actions: chex.Array, config: GameConfig) -> tuple[
        State, chex.Array, chex.Array]:
    """``step`` over a batch (states [B, ...], actions [B, 3, S]) -> (states, rewards [B],
    done [B]); the end-of-game penalty is computed only when some game runs out of moves
    unsolved."""
    played, reward, done, unfinished = jax.vmap(lambda s, a: _advance(s, a, config))(states,
                                                                                     actions)
    penalty = jax.lax.cond(
        jnp.any(unfinished),
        lambda r: jax.vmap(lambda x: end_penalty(x, config))(r),
        lambda r: jnp.zeros(r.shape[:1], jnp.int32), played.residual)
    penalty = jnp.where(unfinished, penalty, 0)
    return (_charged(played, penalty, config), reward - penalty.astype(jnp.float32), done)


def is_algorithm(state: State, config: GameConfig) -> chex.Array:
    """[...] bool for states of any batch shape: the moves, with the completion's terms, make an
    algorithm (the residual is zero, or with ``completion`` the game ended)."""
    return jnp.all(state.residual == 0, axis=(-3, -2, -1)) | (config.completion
                                                              & state.terminated)


def end_penalty(residual: chex.Array, config: GameConfig) -> chex.Array:
    """[] int32: what a residual left at the move limit costs: its fibre count (the completion's
    terms) with ``completion``, else its rank upper bound (AlphaTensor's terminal reward)."""
    return fibre_count(residual) if config.completion else rank_bound(residual, config)


def _charged(state: State, penalty: chex.Array, config: GameConfig) -> State:
    """With ``completion``, the completion's terms count in the state's rank."""
    return state.replace(rank=state.rank + penalty) if config.completion else state


def _advance(state: State, action: chex.Array, config: GameConfig):
    """(next state, reward without the end-of-game penalty, done, ran out of moves unsolved)."""
    chex.assert_shape(action, (3, config.size))
    action = canonicalize(jnp.asarray(action, jnp.int32) * dims_mask(state.dims, config), config)
    residual = _reduce(state.residual - move_tensor(action, config), config)
    cost = move_cost(action, config)
    move_count = state.move_count + 1
    moves = state.moves.at[state.move_count].set(action)
    if config.endgame:
        residual, moves, appended, extra = _finish(residual, moves, move_count, state.dims,
                                                   config)
        cost, move_count = cost + extra, move_count + appended
    solved = jnp.all(residual == 0)
    out_of_moves = move_count >= config.max_moves
    played = State(
        residual=residual,
        dims=state.dims,
        moves=moves,
        move_count=move_count,
        rank=state.rank + cost,
        terminated=solved | out_of_moves,
    )
    return jax.lax.cond(
        state.terminated,
        lambda: (state, jnp.zeros((), jnp.float32), jnp.ones((), bool), jnp.zeros((), bool)),
        lambda: (played, -cost.astype(jnp.float32), played.terminated, out_of_moves & ~solved),
    )


def _finish(residual: chex.Array, moves: chex.Array, move_count: chex.Array, dims: chex.Array,
            config: GameConfig) -> tuple[chex.Array, chex.Array, chex.Array, chex.Array]:
    """The endgame: when ``tensorgame.endgame`` decomposes the residual into r <= endgame terms,
    they are appended as moves if they fit in the moves left (in the symmetric game, one move per
    orbit or symmetric term: a unique decomposition of a symmetric residual is made of whole
    orbits). Returns (residual, moves [T, 3, S], moves appended [] int32, their cost [] int32;
    unchanged, 0 and 0 otherwise)."""
    found, terms, count = endgame.solve(residual, dims, config.coefficients, config.endgame)
    terms = jax.vmap(lambda a: canonicalize(a * dims_mask(dims, config), config))(terms)
    row = jnp.arange(terms.shape[0])
    kept = row < count
    if config.orbits:  # the first term of each orbit stands for it, checked exactly
        same = jnp.all(terms[:, None] == terms[None, :], axis=(-2, -1))
        kept = kept & ~jnp.any(jnp.tril(same, k=-1), axis=1)
        rebuilt = jnp.einsum("t,tijk->ijk", kept.astype(jnp.int32),
                             jax.vmap(lambda a: move_tensor(a, config))(terms))
        found = found & jnp.all(rebuilt == residual)
        order = jnp.argsort(~kept, stable=True)
        terms, kept = terms[order], kept[order]
    appended = jnp.sum(kept).astype(jnp.int32)
    cost = jnp.sum(jnp.where(kept, jax.vmap(lambda a: move_cost(a, config))(terms), 0))
    found = found & (appended <= config.max_moves - move_count)
    slots = jnp.where(found & kept, move_count + row, config.max_moves)  # T: dropped
    moves = moves.at[slots].set(terms, mode="drop")
    residual = jnp.where(found, jnp.zeros_like(residual), residual)
    return residual, moves, jnp.where(found, appended, 0), jnp.where(found, cost, 0)


def rank_one(action: chex.Array) -> chex.Array:
    """u (x) v (x) w for an action [3, S]: [S, S, S]."""
    return jnp.einsum("i,j,k->ijk", action[0], action[1], action[2])


def is_symmetric_term(action: chex.Array) -> chex.Array:
    """[] bool: a canonical action [3, S] of the form (u, u, +-u), a cyclically invariant term."""
    return jnp.all(action[0] == action[1]) & (jnp.all(action[2] == action[0])
                                              | jnp.all(action[2] == -action[0]))


def rotate(action: chex.Array) -> chex.Array:
    """(u, v, w) -> (v, w, u), the cyclic shift of the modes: [3, S] -> [3, S]."""
    return action[jnp.array([1, 2, 0])]


def rotate_in_block(action: chex.Array, shape: tuple[int, int, int]) -> tuple[chex.Array,
                                                                             chex.Array]:
    """The cyclic shift inside the square block of <n,m,p> that holds the move: (rotated [3, S],
    fits [] bool). The rows I, inner indices K and columns J the move touches (u lives on I x K,
    v on K x J, w on J x I, DESIGN.md's convention), each padded with the smallest unused indices
    to s = min(n, m, p) and taken in ascending order, make a block whose tensor is <s,s,s>; in
    its local coordinates (u, v, w) -> (v, w, u) is a symmetry of it. Every move inside the
    leading block (the s smallest of each index) is rotated in that block, so a decomposition of
    it stays one (the target's index permutations carry any block there). For a square target
    this is ``rotate``; ``fits`` is False when the move touches more than s of some index (the
    result is then meaningless)."""
    n, m, p = shape
    size = min(shape)
    u = action[0, : n * m].reshape(n, m)  # [i, k]
    v = action[1, : m * p].reshape(m, p)  # [k, j]
    w = action[2, : p * n].reshape(p, n)  # [j, i]
    used_i = jnp.any(u != 0, axis=1) | jnp.any(w != 0, axis=0)
    used_k = jnp.any(u != 0, axis=0) | jnp.any(v != 0, axis=1)
    used_j = jnp.any(v != 0, axis=0) | jnp.any(w != 0, axis=1)
    (rows, fit_i), (inner, fit_k), (cols, fit_j) = (_block_indices(used, size)
                                                     for used in (used_i, used_k, used_j))

    def local(matrix, left, right):  # [a, b] -> [s, s]
        return left @ matrix @ right.T

    def placed(matrix, left, right):  # [s, s] -> [a, b]
        return left.T @ matrix @ right

    u_local, v_local, w_local = local(u, rows, inner), local(v, inner, cols), local(w, cols, rows)
    rotated = jnp.zeros_like(action)
    rotated = rotated.at[0, : n * m].set(placed(v_local, rows, inner).ravel())
    rotated = rotated.at[1, : m * p].set(placed(w_local, inner, cols).ravel())
    rotated = rotated.at[2, : p * n].set(placed(u_local, cols, rows).ravel())
    return rotated, fit_i & fit_k & fit_j


def _block_indices(used: chex.Array, size: int) -> tuple[chex.Array, chex.Array]:
    """(selection [size, len(used)] 0/1 of the used indices and the smallest unused ones up to
    ``size``, ascending; whether the used ones fit)."""
    count = jnp.sum(used)
    unused_before = jnp.cumsum(~used) - 1
    kept = used | (~used & (unused_before < size - count))
    position = jnp.cumsum(kept) - 1
    selection = jax.nn.one_hot(jnp.where(kept, position, size), size, dtype=jnp.int32)  # [L, s]
    return selection.T, count <= size


def image(action: chex.Array, config: GameConfig) -> chex.Array:
    """g applied to an action [3, S] -> [3, S]: ``rotate`` in the symmetric game, the maps of
    ``config.symmetry`` in an orbit game."""
    if config.symmetric:
        return rotate(action)
    maps = jnp.asarray(config.symmetry, jnp.int32).reshape(3, config.size, config.size)
    return jnp.einsum("mij,mj->mi", maps, action)


def is_fixed(action: chex.Array, config: GameConfig) -> chex.Array:
    """[] bool: g fixes the move's term (``is_symmetric_term`` in the symmetric game)."""
    if config.symmetric:
        return is_symmetric_term(action)
    return jnp.all(rank_one(image(action, config)) == rank_one(action))


def move_tensor(action: chex.Array, config: GameConfig) -> chex.Array:
    """[S, S, S]: what a canonical move subtracts (its orbit in the symmetric or orbit game)."""
    term = rank_one(action)
    if not config.orbits:
        return term
    once = image(action, config)
    orbit = term + rank_one(once) + rank_one(image(once, config))
    return jnp.where(is_fixed(action, config), term, orbit)


def move_cost(action: chex.Array, config: GameConfig) -> chex.Array:
    """[] int32: multiplications of a canonical move (1, or 3 for an orbit)."""
    if not config.orbits:
        return jnp.ones((), jnp.int32)
    return jnp.where(is_fixed(action, config), 1, 3).astype(jnp.int32)


def canonicalize(action: chex.Array, config: GameConfig) -> chex.Array:
    """One encoding per move: first non-zeros of u and v made positive (the signs move to w);
    over Z2 entries are reduced mod 2; in the symmetric and orbit games the smallest
    (lexicographically) of the orbit's three encodings whose entries lie in the coefficient set
    (the rotations always do). Shape [3, S] -> [3, S]."""
    one = _canonical_signs if config.field == "Z" else (lambda a: a % 2)
    if not config.orbits:
        return one(action)
    once = image(action, config)
    candidates = [one(action), one(once), one(image(once, config))]
    allowed = jnp.asarray(config.coefficients)

    def in_alphabet(a):  # the rotations of an in-alphabet move always are: no check needed
        return jnp.ones((), bool) if config.symmetric else jnp.all(jnp.isin(a, allowed))

    best = candidates[0]
    for other in candidates[1:]:
        better = _lex_less(other, best) | ~in_alphabet(best)
        best = jnp.where(better & in_alphabet(other), other, best)
    return best


def _canonical_signs(action: chex.Array) -> chex.Array:
    def sign_of_first_nonzero(x):
        first = x[jnp.argmax(x != 0)]
        return jnp.where(first < 0, -1, 1)

    su, sv = sign_of_first_nonzero(action[0]), sign_of_first_nonzero(action[1])
    return jnp.stack([action[0] * su, action[1] * sv, action[2] * su * sv])


def _lex_less(a: chex.Array, b: chex.Array) -> chex.Array:
    """[] bool: a < b in lexicographic order of their flattened entries."""
    diff = (a - b).ravel()
    first = diff[jnp.argmax(diff != 0)]
    return first < 0


def dims_mask(dims: chex.Array, config: GameConfig) -> chex.Array:
    """[3, S] int32: 1 where a coordinate lies inside the target's real sizes."""
    return (jnp.arange(config.size)[None, :] < dims[:, None]).astype(jnp.int32)


def is_legal(action: chex.Array, state: State, config: GameConfig) -> chex.Array:
    """[] bool: entries in the coefficient set, no zero factor, zeros outside ``state.dims``."""
    allowed = jnp.isin(action, jnp.asarray(config.coefficients)).all()
    inside = jnp.all((action != 0) <= (dims_mask(state.dims, config) == 1))
    no_zero_factor = jnp.all(jnp.any(action != 0, axis=1))
    return allowed & inside & no_zero_factor


def rank_bound(residual: chex.Array, config: GameConfig) -> chex.Array:
    """[] int32: min over the three modes of the sum of slice ranks (over GF(2) for Z2)."""
    modulus = 2 if config.field == "Z2" else RANK_PRIME
    residual = jnp.mod(residual, modulus)
    slice_ranks = jax.vmap(lambda m: _matrix_rank_mod(m, modulus))
    per_mode = jnp.stack([
        slice_ranks(residual).sum(),
        slice_ranks(jnp.transpose(residual, (1, 0, 2))).sum(),
        slice_ranks(jnp.transpose(residual, (2, 0, 1))).sum(),
    ])
    return per_mode.min().astype(jnp.int32)


def fibre_count(residual: chex.Array) -> chex.Array:
    """[] int32: the fewest non-zero fibres of ``residual`` [S, S, S] along one mode (the number
    of terms ``completion_terms`` uses; ties go to the earlier mode)."""
    return jnp.min(_fibres_per_mode(residual != 0)).astype(jnp.int32)


def _fibres_per_mode(nonzero):
    """Non-zero fibres along modes 0, 1, 2 of a boolean [S, S, S] (jnp or np): [3]."""
    xp = jnp if isinstance(nonzero, jax.Array) else np
    return xp.stack([nonzero.any(axis=axis).sum() for axis in range(3)])


def completion_terms(residual: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host side: the completion of ``residual`` [I, J, K], one term per non-zero fibre along
    the mode ``fibre_count`` picks, as term-major (u [r, I], v [r, J], w [r, K]) int64."""
    residual = np.asarray(residual, np.int64)
    mode = int(np.argmin(_fibres_per_mode(residual != 0)))
    moved = np.moveaxis(residual, mode, -1)  # [X, Y, fibre]
    x, y = np.nonzero(np.any(moved != 0, axis=-1))
    ones_x = np.eye(moved.shape[0], dtype=np.int64)[x]
    ones_y = np.eye(moved.shape[1], dtype=np.int64)[y]
    fibres = moved[x, y]
    factors = [ones_x, ones_y]
    factors.insert(mode, fibres)  # the fibres fill the factor of their mode
    return tuple(factors)


def _matrix_rank_mod(matrix: chex.Array, modulus: int) -> chex.Array:
    """Rank of a [S, S] matrix with entries in [0, modulus), by fraction-free elimination."""
    size = matrix.shape[0]
    rows = jnp.arange(size)

    def eliminate_column(col, carry):
        m, used, rank = carry
        candidates = (m[:, col] != 0) & ~used
        found = candidates.any()
        pivot = jnp.argmax(candidates)
        updated = (m * m[pivot, col] - m[:, col][:, None] * m[pivot][None, :]) % modulus
        clear = found & ~used & (rows != pivot)
        m = jnp.where(clear[:, None], updated, m)
        return m, used.at[pivot].set(used[pivot] | found), rank + found.astype(jnp.int32)

    carry = (matrix.astype(jnp.int32), jnp.zeros(size, bool), jnp.zeros((), jnp.int32))
    return jax.lax.fori_loop(0, matrix.shape[1], eliminate_column, carry)[2]


def recent_moves(moves: chex.Array, count: chex.Array, history: int) -> chex.Array:
    """The last ``history`` of the first ``count`` moves [T, 3, S], most recent first, zero rows
    before move 1: [h, 3, S]."""
    index = count - 1 - jnp.arange(history)
    recent = moves[jnp.clip(index, 0, moves.shape[0] - 1)]
    return jnp.where((index >= 0)[:, None, None], recent, 0)


def history(state: State, config: GameConfig) -> chex.Array:
    """[h, S, S, S]: rank-1 tensors of the last h moves, most recent first (zeros before move 1)."""
    return jax.vmap(rank_one)(recent_moves(state.moves, state.move_count, config.history))


def _reduce(tensor: chex.Array, config: GameConfig) -> chex.Array:
    return tensor % 2 if config.field == "Z2" else tensor


def terms(state: State, config: GameConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Host side: the terms of the moves played (orbits expanded in the symmetric and orbit
    games), then with ``completion`` those of an unsolved ``state.residual``'s completion, cut
    to the target's sizes, as term-major (u, v, w)."""
    count = int(state.move_count)
    moves = np.asarray(state.moves)[:count].astype(np.int64)
    if config.orbits:
        expanded = []
        for move in moves:
            once = np.asarray(image(jnp.asarray(move), config), np.int64)
            fixed = bool(is_fixed(jnp.asarray(move), config))
            twice = np.asarray(image(jnp.asarray(once), config), np.int64)
            expanded += [move] if fixed else [move, once, twice]
        moves = np.array(expanded, np.int64).reshape(-1, 3, moves.shape[-1])
    dims = np.asarray(state.dims)
    u, v, w = moves[:, 0, : dims[0]], moves[:, 1, : dims[1]], moves[:, 2, : dims[2]]
    if config.completion:
        rest = completion_terms(np.asarray(state.residual)[: dims[0], : dims[1], : dims[2]])
        u, v, w = (np.concatenate([a, b]) for a, b in zip((u, v, w), rest))
    return u, v, w


def to_factorization(state: State, config: GameConfig, shape: tuple[int, int, int],
                     meta: dict | None = None) -> Factorization:
    """Host side: the moves of a (finished) game of <n,m,p> as a Factorization (not verified)."""
    n, m, p = shape
    if tuple(np.asarray(state.dims).tolist()) != (n * m, m * p, p * n):
        raise TensorgameError(f"game sizes {np.asarray(state.dims).tolist()} are not those of "
                              f"<{n},{m},{p}>")
    u, v, w = terms(state, config)
    return Factorization(shape, config.field, u, v, w, meta or {})
