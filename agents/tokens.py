"""Moves as token sequences: a move [3, S] cut into L tokens of k entries over the alphabet C.

Token value = sum_e index(entry_e) * |C|^e, where index() is the position in the sorted
coefficient tuple. Each factor (u, v, w) spans S / k consecutive tokens.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from tensorgame.errors import TensorgameError


@dataclasses.dataclass(frozen=True)
class Tokenizer:
    size: int  # S
    coefficients: tuple[int, ...]  # C, sorted, contains 0
    entries: int  # k

    @property
    def vocabulary(self) -> int:
        return len(self.coefficients) ** self.entries

    @property
    def length(self) -> int:
        return 3 * self.size // self.entries

    @property
    def per_factor(self) -> int:
        return self.size // self.entries

    def table(self) -> np.ndarray:
        """[V, k] int32: the entries of each token."""
        base = len(self.coefficients)
        digits = (np.arange(self.vocabulary)[:, None] // base ** np.arange(self.entries)) % base
        return np.asarray(self.coefficients, dtype=np.int32)[digits]

    def encode(self, move: jnp.ndarray) -> jnp.ndarray:
        """[..., 3, S] int32 -> [..., L] int32 (entries must lie in C)."""
        coeffs = jnp.asarray(self.coefficients, dtype=jnp.int32)
        index = jnp.argmax(move[..., None] == coeffs, axis=-1)  # [..., 3, S]
        index = index.reshape(*move.shape[:-2], self.length, self.entries)
        base = len(self.coefficients) ** jnp.arange(self.entries)
        return jnp.sum(index * base, axis=-1).astype(jnp.int32)

    def decode(self, tokens: jnp.ndarray) -> jnp.ndarray:
        """[..., L] int32 -> [..., 3, S] int32."""
        entries = jnp.asarray(self.table())[tokens]  # [..., L, k]
        return entries.reshape(*tokens.shape[:-1], 3, self.size)

    def fits(self, dims: jnp.ndarray) -> jnp.ndarray:
        """[..., L, V] bool: tokens whose non-zero entries lie inside ``dims`` [..., 3] (built
        once per state; ``mask`` adds the rule on zero factors)."""
        table = jnp.asarray(self.table())  # [V, k]
        position = jnp.arange(self.length)
        factor = position // self.per_factor  # [L]
        entry_index = (position % self.per_factor)[:, None] * self.entries + jnp.arange(
            self.entries)  # [L, k]
        limit = jnp.take(dims, factor, axis=-1)  # [..., L]
        outside = entry_index >= limit[..., None]  # [..., L, k]
        return ~jnp.any(outside[..., :, None, :] & (table != 0), axis=-1)

    def zero_tokens(self) -> jnp.ndarray:
        """[V] bool: tokens whose entries are all zero."""
        return jnp.asarray(np.all(self.table() == 0, axis=-1))

    def is_factor_end(self, position: int) -> bool:
        return position % self.per_factor == self.per_factor - 1

    def mask(self, dims: jnp.ndarray, tokens: jnp.ndarray) -> jnp.ndarray:
        """Allowed tokens per position given the prefix, [..., L, V] bool.

        ``dims`` [..., 3] are the real sizes of the three modes; entries beyond them must be zero.
        A factor's last token may not be zero when its earlier tokens (in ``tokens`` [..., L],
        read as the prefix) are all zero, so no factor is zero.
        """
        zero_token = self.zero_tokens()  # [V]
        token_zero = zero_token[tokens]  # [..., L]
        grouped = token_zero.reshape(*tokens.shape[:-1], 3, self.per_factor)
        earlier_zero = jnp.cumprod(grouped, axis=-1) if self.per_factor > 1 else grouped
        earlier_zero = jnp.concatenate(
            [jnp.ones_like(grouped[..., :1]), earlier_zero[..., :-1]], axis=-1)
        is_last = (jnp.arange(self.length) % self.per_factor) == self.per_factor - 1  # [L]
        needs_nonzero = earlier_zero.reshape(*tokens.shape[:-1], self.length) & is_last
        return self.fits(dims) & ~(needs_nonzero[..., None] & zero_token)


def make_tokenizer(size: int, coefficients: tuple[int, ...], token_entries: int,
                   max_vocabulary: int) -> Tokenizer:
    """The tokenizer for size S; ``token_entries`` 0 picks the largest divisor of S that fits."""
    base = len(coefficients)
    if token_entries == 0:
        token_entries = max(k for k in range(1, size + 1)
                            if size % k == 0 and base ** k <= max_vocabulary)
    if size % token_entries:
        raise TensorgameError(
            f"token_entries ({token_entries}) must divide the padded size {size}")
    if base ** token_entries > 1 << 16:
        raise TensorgameError(f"token vocabulary {base}^{token_entries} is too large")
    return Tokenizer(size=size, coefficients=tuple(sorted(coefficients)), entries=token_entries)
